"""Walking a mail's MIME parts: content types, declared and real charsets, file names, lenient
base64, attached messages; nesting bounded so a parser bomb is not a citizen's letter."""

from __future__ import annotations

import binascii
import re
from email import policy
from email.message import Message
from typing import Any

from connectors.email.decoding import (
    clean_line,
    unescape_surrogates,
)
from connectors.email.headers import decode_header_value

MAX_DEPTH = 20  # nested multiparts; deeper ones are a parser bomb, not a citizen's letter


# --------------------------------------------------------------------------- MIME walk


def part_content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def part_charset(part: Message) -> str | None:
    try:
        cs = part.get_param("charset")
    except Exception:
        return None
    if isinstance(cs, tuple):  # RFC 2231 value: (charset, language, value)
        cs = cs[2]
    return str(cs) if cs else None


NAME_PARAM = re.compile(r"name\*?\s*=", re.I)


def raw_header(part: Message, name: str) -> str | None:
    try:
        for key, value in part.raw_items():
            if key.lower() == name:
                return str(value)
    except Exception:
        return None
    return None


def part_disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def part_filename(part: Message) -> str | None:
    name: Any = None
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if isinstance(name, str) and "\ufffd" in name:
        # Raw 8-bit parameters (a client writing filename="现场.png" in UTF-8 or GBK): compat32
        # hands them back with replacement characters; read them from the raw header instead.
        name = _raw_param(part, "content-disposition", "filename") or _raw_param(part, "content-type", "name")
    if not name:
        try:
            name = part.get_param("name")
        except Exception:
            name = None
        if isinstance(name, tuple):
            name = name[2]
    if not name:
        return None
    name = str(name)
    if "=?" in name or any(0xDC80 <= ord(c) <= 0xDCFF for c in name):
        name = decode_header_value(name)
    name = clean_line(name, 200).replace("/", "_").replace("\\", "_")
    return name or None


def _raw_param(part: Message, header: str, param: str) -> str | None:
    """A parameter of the raw header, its 8-bit bytes decoded as the header words are."""
    value = raw_header(part, header)
    if value is None:
        return None
    probe = Message()
    probe[header] = decode_header_value(value)
    try:
        found = probe.get_param(param, header=header)
    except Exception:
        return None
    if isinstance(found, tuple):  # RFC 2231: (charset, language, value)
        found = found[2]
    return str(found) if found else None


def lenient_base64(payload: str) -> bytes:
    """Base64 that survives stray characters, missing padding and a cut-off end.

    Padding ends a block; some mailers concatenate padded blocks, so each block is
    decoded on its own.  A block cut short keeps all its whole bytes.
    """
    out = []
    cleaned = re.sub(rb"[^A-Za-z0-9+/=]", b"", unescape_surrogates(payload))
    for block in re.split(rb"=+", cleaned):
        rem = len(block) % 4
        if rem == 1:
            block = block[:-1]  # a lone sextet carries no whole byte
        elif rem:
            block += b"=" * (4 - rem)
        if block:
            try:
                out.append(binascii.a2b_base64(block))
            except (binascii.Error, ValueError):
                break
    return b"".join(out)


def payload_bytes(part: Message) -> bytes:
    try:
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    except Exception:
        cte = ""
    if cte == "base64":
        payload = part.get_payload()
        if isinstance(payload, str):
            return lenient_base64(payload)
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return unescape_surrogates(payload)
        return b""
    return bytes(data)


def walk_leaves(part: Message, depth: int = 0):
    """(part, content type) of the leaf parts in document order; attached mails stay whole
    (they are attachments).  The type is computed once: with policy.default every header
    access re-parses the header, which dominated the parse time."""
    if depth > MAX_DEPTH:
        return
    ctype = part_content_type(part)
    if ctype in ("message/rfc822", "message/global") and depth > 0:
        yield part, ctype
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    yield from walk_leaves(sub, depth + 1)
        return
    yield part, ctype


def attached_message_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        try:
            return payload[0].as_bytes(policy=policy.SMTP.clone(linesep="\r\n"))
        except Exception:
            try:
                return payload[0].as_string().encode("utf-8", "surrogateescape")
            except Exception:
                return b""
    return payload_bytes(part)
