"""Masking of citizens' contacts for anyone who does not need them in full."""

from __future__ import annotations

import re

# What a citizen types into a message that identifies them as much as the contact field does: any
# run of seven or more digits (a mobile written 138 3751 2345, a landline, an ID card number, one
# cut short by a title's length) and anything with an @; ticket numbers (PDS…) are not numbers alone.
_NUMBER_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])(?:\+?86[-\s]?)?\d(?:[-\s]?\d){6,}(?![A-Za-z0-9])")
_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]*")


def mask_phone(phone: str | None) -> str | None:
    """138****2345: enough to recognise a caller, not enough to call them."""
    if not phone:
        return phone
    p = phone.strip()
    if len(p) >= 7:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    return "*" * max(0, len(p) - 2) + p[-2:]


def mask_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if local else "***@" + domain


def mask_openid(openid: str | None) -> str | None:
    if not openid:
        return openid
    return openid[:4] + "…" + openid[-4:] if len(openid) > 10 else "***"


def mask_contacts_in_text(text: str | None) -> str | None:
    """The text with every phone-like number and e-mail address in it masked like the contact fields."""
    if not text:
        return text
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group(0)) or "", text)
    return _NUMBER_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"^\+?86|[-\s]", "", m.group(0))) or "", text)
