"""Contact details a citizen writes into a message instead of a channel's contact fields."""

from __future__ import annotations

import re

# A mobile number as people type it (13900001111, 139-0000-1111, 139 0000 1111), not a run of
# digits inside a longer number (an ID card, a ticket number's digits).
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")


def phone_in_text(text: str) -> str | None:
    """The first mobile number written in the text, stored the way the contact fields store it."""
    match = _MOBILE_IN_TEXT.search(text)
    return "".join(match.groups()) if match else None
