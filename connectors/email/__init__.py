"""The email connector."""
