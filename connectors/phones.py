"""The one normaliser of citizens' phone numbers, for every channel and the console's manual intake.

Mobiles are 11 digits starting 13–19 (people write 138-3751-2345, +86 138 3751 2345, (138)…);
landlines keep an area code, with or without a dash after it (0375-1234567).
"""

from __future__ import annotations

import re

MOBILE_RE = re.compile(r"1[3-9]\d{9}")
LANDLINE_RE = re.compile(r"0\d{2,3}-?\d{7,8}")
_SEPARATORS = re.compile(r"[\s()（）]")


class InvalidPhone(ValueError):
    """Not a mobile or landline number; ``str(exc)`` is the Chinese message for the person."""

    def __init__(self) -> None:
        super().__init__("电话格式不正确，请填写11位手机号或带区号的固定电话")


def normalize_phone(raw: str) -> str:
    """The number as stored and searched: digits, a landline's dash kept; raises :class:`InvalidPhone`."""
    phone = _SEPARATORS.sub("", raw).removeprefix("+86")
    if MOBILE_RE.fullmatch(phone.replace("-", "")):
        return phone.replace("-", "")
    if LANDLINE_RE.fullmatch(phone):
        return phone
    raise InvalidPhone()
