"""Masking of citizens' contacts for anyone who does not need them in full."""

from __future__ import annotations

# --------------------------------------------------------------------------- masking, shift

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
