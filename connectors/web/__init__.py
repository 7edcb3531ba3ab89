"""The web channel: the chat API used by the citizen pages (and anyone's own front end)."""
