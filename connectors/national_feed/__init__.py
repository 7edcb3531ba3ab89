"""The national_feed connector."""
