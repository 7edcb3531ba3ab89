"""A mail's headers: RFC 2047 words in any charset, Message-IDs, the sender, the date, and the
ticket numbers and mobile numbers a citizen writes."""

from __future__ import annotations

import binascii
import email.utils
import re
from datetime import datetime, timezone
from email.message import Message

from connectors.email.decoding import (
    clean_line,
    clean_text,
    decode_bytes,
    unescape_surrogates,
)

TICKET_RE = re.compile(r"(?<![A-Za-z0-9])PDS(\d{8})(\d{5,7})(?!\d)", re.I)
MOBILE_RE = re.compile(r"(?<![\d])(?:\+?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")
_MSGID_RE = re.compile(r"<([^<>\s]{1,998})>")
_EW_RE = re.compile(r"=\?([^?\s]{1,64})\?([QqBb])\?([^?\s]*)\?=")
MAX_REFERENCES = 20


# --------------------------------------------------------------------------- headers


def _decode_encoded_word(charset: str, enc: str, payload: str) -> bytes | None:
    try:
        if enc in "Bb":
            payload = payload + "=" * (-len(payload) % 4)
            return binascii.a2b_base64(payload.encode("ascii"))
        return binascii.a2b_qp(payload.encode("ascii"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def decode_header_value(raw: str | None) -> str:
    """RFC 2047 words and raw 8-bit bytes of one header value, decoded with the charset chain.

    Adjacent encoded words of one charset are joined *before* decoding: many mailers split
    a GBK or UTF-8 character across two words.
    """
    if not raw:
        return ""
    raw = re.sub(r"\r?\n[ \t]", " ", str(raw))
    pieces: list[tuple[bytes, str | None]] = []  # (bytes, charset) ; charset None = literal
    pos = 0
    for m in _EW_RE.finditer(raw):
        literal = raw[pos:m.start()]
        data = _decode_encoded_word(m.group(1), m.group(2), m.group(3))
        charset = m.group(1).split("*", 1)[0]  # RFC 2231 language suffix
        if data is None:
            literal += m.group(0)
            pieces.append((unescape_surrogates(literal), None))
        else:
            # Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
            if not (literal.strip() == "" and pieces and pieces[-1][1] is not None):
                if literal:
                    pieces.append((unescape_surrogates(literal), None))
            if pieces and pieces[-1][1] is not None and pieces[-1][1].lower() == charset.lower():
                pieces[-1] = (pieces[-1][0] + data, pieces[-1][1])
            else:
                pieces.append((data, charset))
        pos = m.end()
    if pos < len(raw):
        pieces.append((unescape_surrogates(raw[pos:]), None))
    return "".join(decode_bytes(data, cs)[0] for data, cs in pieces)


def header_map(msg: Message) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    try:
        items = msg.raw_items() if hasattr(msg, "raw_items") else msg.items()
        for name, value in items:
            headers.setdefault(str(name).strip().lower(), []).append(str(value))
    except Exception:  # a header the policy cannot even list: keep what we have
        pass
    return headers


def first_header(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def normalize_msgid(raw: str | None) -> str | None:
    if not raw:
        return None
    raw = clean_text(raw)
    m = _MSGID_RE.search(raw)
    value = m.group(1) if m else raw.strip().strip("<>")
    if not value or any(c.isspace() for c in value):
        return None
    return value


def msgid_list(raw: str | None) -> list[str]:
    if not raw:
        return []
    raw = clean_text(raw)
    ids = _MSGID_RE.findall(raw)
    if not ids:
        ids = [t.strip("<>,") for t in raw.split() if "@" in t]
    return [i for i in ids if i][-MAX_REFERENCES:]


def find_ticket(text: str | None) -> str | None:
    for found in find_tickets(text):
        return found
    return None


def find_tickets(text: str | None) -> list[str]:
    out: list[str] = []
    for m in TICKET_RE.finditer(text or ""):
        day = m.group(1)
        try:
            datetime.strptime(day, "%Y%m%d")
        except ValueError:
            continue
        number = f"PDS{day}{m.group(2)}"
        if number not in out:
            out.append(number)
    return out


def find_mobile(text: str) -> str | None:
    m = MOBILE_RE.search(text)
    return "".join(m.groups()) if m else None


def parse_sender(raw_from: str | None) -> tuple[str | None, str | None]:
    if not raw_from:
        return None, None
    try:
        pairs = email.utils.getaddresses([re.sub(r"\r?\n[ \t]", " ", raw_from)])
    except Exception:
        pairs = []
    for name, addr in pairs:
        addr = clean_text(addr).strip().strip("<>").lower()
        if "@" in addr and not any(c.isspace() for c in addr) and len(addr) <= 254:
            display = clean_line(decode_header_value(name), 100).strip("\"' ") or None
            return addr, display
    return None, None


def parse_date(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(clean_text(raw).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc).isoformat()
    except (OverflowError, ValueError):
        return None
