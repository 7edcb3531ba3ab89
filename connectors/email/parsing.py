"""From the raw bytes of one mail to the facts the intake needs (pure functions, no I/O).

The stdlib parser (``policy.default``) does the MIME structure; header words and bodies are
decoded here with :mod:`connectors.email.decoding`, because the stdlib trusts declared
charsets that Chinese mail clients routinely get wrong.  Nothing in this module raises on
bad input: a mail that defeats the parser still yields its raw text (``unparsed=True``).
"""

from __future__ import annotations

import binascii
import email.utils
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from connectors.email import texts
from connectors.email.decoding import (
    clean_line,
    clean_text,
    decode_bytes,
    html_declared_charset,
    html_to_text,
    unescape_surrogates,
)

TICKET_RE = re.compile(r"(?<![A-Za-z0-9])PDS(\d{8})(\d{5,7})(?!\d)", re.I)
MOBILE_RE = re.compile(r"(?<![\d])(?:\+?86[-\s]?)?(1[3-9]\d)[-\s]?(\d{4})[-\s]?(\d{4})(?!\d)")
_MSGID_RE = re.compile(r"<([^<>\s]{1,998})>")
_EW_RE = re.compile(r"=\?([^?\s]{1,64})\?([QqBb])\?([^?\s]*)\?=")

MAX_NATIVE_ID = 250
MAX_REFERENCES = 20
MAX_DEPTH = 20  # nested multiparts; deeper ones are a parser bomb, not a citizen's letter


@dataclass
class RawAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    native_id: str
    message_id: str  # bare id (no angle brackets); generated when the mail had none
    message_id_generated: bool
    sender: str | None  # lower-cased From address (None if the mail names none usable)
    sender_name: str | None
    subject: str | None
    text: str  # trimmed for the NLU
    thread_key: str | None
    ticket_no: str | None
    in_reply_to: str | None
    references: list[str]
    phone: str | None
    headers: dict[str, list[str]]
    content_type: str = "text/plain"
    charset: str | None = None
    html_only: bool = False
    truncated: bool = False
    unparsed: bool = False
    date: str | None = None
    mentioned_tickets: list[str] = field(default_factory=list)
    attachments: list[RawAttachment] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


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


def _header_map(msg: Message) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    try:
        items = msg.raw_items() if hasattr(msg, "raw_items") else msg.items()
        for name, value in items:
            headers.setdefault(str(name).strip().lower(), []).append(str(value))
    except Exception:  # a header the policy cannot even list: keep what we have
        pass
    return headers


def _first(headers: dict[str, list[str]], name: str) -> str | None:
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


def _msgid_list(raw: str | None) -> list[str]:
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


def _parse_sender(raw_from: str | None) -> tuple[str | None, str | None]:
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


def _parse_date(raw: str | None) -> str | None:
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


# --------------------------------------------------------------------------- quote trimming

_CUT_PATTERNS = [
    re.compile(r"^\s*-{2,}\s*(原始邮件|原始郵件|Original Message|转发的邮件|Forwarded message)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*-{3,}\s*(原始邮件|原始郵件|Original Message)", re.I),
    re.compile(r"^\s*(在|于|於).{0,200}(写道|寫道)\s*[:：]?\s*$"),
    re.compile(r"^\s*On\s.{0,300}\swrote\s*:\s*$", re.I),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook puts a rule above the quoted headers
]
_QUOTED_HEADER = re.compile(r"^\s*(发件人|寄件者|From)\s*[:：]", re.I)
_QUOTED_HEADER_NEXT = re.compile(r"^\s*(发送时间|發送時間|日期|时间|Sent|Date|收件人|To)\s*[:：]", re.I)
_SIGNATURE = re.compile(r"^--\s*$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(发自我的|来自我的|發自我的|从我的|發送自我的|Sent from my|Sent from|Get Outlook for|发自|来自)\s*\S.{0,40}$",
    re.I,
)


def _cut_index(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        if any(p.match(line) for p in _CUT_PATTERNS):
            return i
        # Gmail wraps "On <date>, <name> wrote:" over two lines.
        if (
            i + 1 < len(lines)
            and re.match(r"^\s*On\s", line, re.I)
            and re.match(r"^(.*\s)?wrote\s*:\s*$", lines[i + 1])
        ):
            return i
        if _QUOTED_HEADER.match(line) and any(_QUOTED_HEADER_NEXT.match(n) for n in lines[i + 1:i + 4]):
            return i
    return None


def split_own_text(body: str) -> tuple[str, str]:
    """(text for the NLU, the citizen's own text including the signature).

    The second keeps phone numbers that citizens put in signatures; both drop quoted
    history, which is the mayor's office's own earlier reply or someone else's words.
    """
    lines = body.split("\n")
    cut = _cut_index(lines)
    own = lines if cut is None else lines[:cut]
    own = [line for line in own if not line.lstrip().startswith(">")]
    with_signature = "\n".join(own).strip()
    for i, line in enumerate(own):
        if _SIGNATURE.match(line):
            own = own[:i]
            break
    own = [line for line in own if not _MOBILE_SIGNATURE.match(line)]
    text = _collapse_blank_lines("\n".join(own))
    return text, with_signature


def _collapse_blank_lines(text: str) -> str:
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def trim_for_nlu(body: str, max_chars: int) -> tuple[str, bool]:
    text, _ = split_own_text(body)
    if not text:
        # Nothing but quotes (e.g. a bare forward): the quoted words are the request.
        text = _collapse_blank_lines(body)
    if len(text) > max_chars:
        return text[:max_chars].rstrip(), True
    return text, False


# --------------------------------------------------------------------------- MIME walk


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _charset(part: Message) -> str | None:
    try:
        cs = part.get_param("charset")
    except Exception:
        return None
    if isinstance(cs, tuple):  # RFC 2231 value: (charset, language, value)
        cs = cs[2]
    return str(cs) if cs else None


_NAME_PARAM = re.compile(r"name\*?\s*=", re.I)


def _raw_header(part: Message, name: str) -> str | None:
    try:
        for key, value in part.raw_items():
            if key.lower() == name:
                return str(value)
    except Exception:
        return None
    return None


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _filename(part: Message) -> str | None:
    name: Any = None
    try:
        name = part.get_filename()
    except Exception:
        name = None
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


def _lenient_base64(payload: str) -> bytes:
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


def _payload_bytes(part: Message) -> bytes:
    try:
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    except Exception:
        cte = ""
    if cte == "base64":
        payload = part.get_payload()
        if isinstance(payload, str):
            return _lenient_base64(payload)
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return unescape_surrogates(payload)
        return b""
    return bytes(data)


def _leaves(part: Message, depth: int = 0):
    """(part, content type) of the leaf parts in document order; attached mails stay whole
    (they are attachments).  The type is computed once: with policy.default every header
    access re-parses the header, which dominated the parse time."""
    if depth > MAX_DEPTH:
        return
    ctype = _content_type(part)
    if ctype in ("message/rfc822", "message/global") and depth > 0:
        yield part, ctype
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    yield from _leaves(sub, depth + 1)
        return
    yield part, ctype


def _attached_message_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        try:
            return payload[0].as_bytes(policy=policy.SMTP.clone(linesep="\r\n"))
        except Exception:
            try:
                return payload[0].as_string().encode("utf-8", "surrogateescape")
            except Exception:
                return b""
    return _payload_bytes(part)


def _extract(msg: Message, leaves: list[tuple[Message, str]], parsed: ParsedEmail, max_attachments: int) -> str:
    plain: list[str] = []
    html: list[str] = []
    charsets: list[str] = []
    for part, ctype in leaves:
        # Raw checks first: parsing a header that is not there, or has no name, is wasted time.
        disposition = _disposition(part) if _raw_header(part, "content-disposition") is not None else ""
        has_name = disposition or _NAME_PARAM.search(_raw_header(part, "content-type") or "")
        filename = _filename(part) if has_name else None
        if ctype.startswith("multipart/"):
            # A multipart the parser could not split (no boundary): its payload is text.
            ctype = "text/plain"
        is_body = (
            ctype in ("text/plain", "text/html")
            and disposition != "attachment"
            and not filename
        ) or (part is msg and ctype.startswith("text/"))
        if is_body:
            try:
                data = _payload_bytes(part)
            except Exception:
                parsed.defects.append("UndecodablePayload")
                continue
            declared = _charset(part)
            if ctype == "text/html" and not declared:
                declared = html_declared_charset(data)
            text, used = decode_bytes(data, declared)
            charsets.append(used)
            text = clean_text(text)
            (html if ctype == "text/html" else plain).append(html_to_text(text) if ctype == "text/html" else text)
            continue
        # Everything else is an attachment (inline images, files, forwarded mails).
        if ctype in ("message/rfc822", "message/global"):
            data = _attached_message_bytes(part)
            name = filename or "forwarded.eml"
        else:
            try:
                data = _payload_bytes(part)
            except Exception:
                parsed.rejected.append(
                    {"filename": filename or "", "content_type": ctype, "size": 0,
                     "reason": texts.ATTACHMENT_UNREADABLE}
                )
                continue
            name = filename or f"attachment{mimetypes.guess_extension(ctype) or '.bin'}"
        if ctype == "application/octet-stream" and filename:
            # Many clients label every file octet-stream; the store still checks magic bytes.
            ctype = mimetypes.guess_type(filename)[0] or ctype
        if len(parsed.attachments) >= max_attachments:
            parsed.rejected.append(
                {"filename": name, "content_type": ctype, "size": len(data),
                 "reason": texts.ATTACHMENT_TOO_MANY.format(limit=max_attachments)}
            )
            continue
        parsed.attachments.append(RawAttachment(filename=name, content_type=ctype, data=data))

    parsed.charset = charsets[0] if charsets else None
    plain_text = "\n\n".join(t for t in plain if t.strip())
    html_text = "\n\n".join(t for t in html if t.strip())
    stub = len(plain_text.strip()) < 20 and len(html_text) > 3 * len(plain_text.strip())
    if html_text and (not plain_text or stub):
        # HTML-only mail, or a plain part that is only a "please view as HTML" stub.
        parsed.html_only = not plain_text
        return html_text
    return plain_text


# --------------------------------------------------------------------------- entry points


def _generated_id(raw: bytes, headers: dict[str, list[str]], hostname: str) -> str:
    # Stable across the sender's retries: the same headers and body give the same id,
    # whatever trace headers relays added in front.
    h = hashlib.sha256()
    for name in ("from", "to", "cc", "date", "subject"):
        for value in headers.get(name, []):
            h.update(name.encode() + b":" + value.encode("utf-8", "surrogateescape") + b"\n")
    sep = raw.find(b"\r\n\r\n")
    if sep < 0:
        sep = raw.find(b"\n\n")
    h.update(raw[sep:] if sep >= 0 else raw)
    return f"nomsgid.{h.hexdigest()[:40]}@{hostname}"


def _native_id(message_id: str) -> str:
    if len(message_id) <= MAX_NATIVE_ID:
        return message_id
    return "long." + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()[:40]


def _own_ticket(ids: list[str], hostname: str) -> str | None:
    """A ticket number carried in the Message-ID of one of our own replies."""
    for mid in reversed(ids):
        if mid.lower().endswith("@" + hostname.lower()):
            found = find_ticket(mid.partition("@")[0])
            if found:
                return found
    return None


def parse_email(
    raw: bytes,
    *,
    hostname: str,
    max_text_chars: int = 5000,
    max_attachments: int = 20,
) -> ParsedEmail:
    """Parse one mail; never raises (falls back to :func:`parse_unparseable`)."""
    try:
        return _parse(raw, hostname=hostname, max_text_chars=max_text_chars, max_attachments=max_attachments)
    except Exception as exc:  # the stdlib parser has had crash bugs on hostile input
        return parse_unparseable(raw, hostname=hostname, max_text_chars=max_text_chars, error=exc)


def _parse(raw: bytes, *, hostname: str, max_text_chars: int, max_attachments: int) -> ParsedEmail:
    msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]
    headers = _header_map(msg)

    raw_mid = normalize_msgid(_first(headers, "message-id"))
    generated = raw_mid is None
    message_id = raw_mid or _generated_id(raw, headers, hostname)

    sender, name = _parse_sender(_first(headers, "from"))
    if sender is None:
        sender, name2 = _parse_sender(_first(headers, "sender") or _first(headers, "reply-to"))
        name = name or name2
    subject_raw = _first(headers, "subject")
    subject = clean_line(decode_header_value(subject_raw), 300) if subject_raw is not None else None

    in_reply_to = normalize_msgid(_first(headers, "in-reply-to"))
    references = _msgid_list(" ".join(headers.get("references", [])))

    parsed = ParsedEmail(
        native_id=_native_id(message_id),
        message_id=message_id,
        message_id_generated=generated,
        sender=sender,
        sender_name=name,
        subject=subject or None,
        text="",
        thread_key=None,
        ticket_no=None,
        in_reply_to=in_reply_to,
        references=references,
        phone=None,
        headers=headers,
        content_type=_content_type(msg),
        date=_parse_date(_first(headers, "date")),
    )

    leaves = list(_leaves(msg))
    body = _extract(msg, leaves, parsed, max_attachments)
    text, truncated = trim_for_nlu(body, max_text_chars)
    _, own_with_signature = split_own_text(body)
    if not text and parsed.subject:
        text = parsed.subject  # some citizens write the whole request in the subject line
    parsed.text = text
    parsed.truncated = truncated
    parsed.phone = find_mobile(own_with_signature) or find_mobile(parsed.subject or "")

    thread_ids = ([in_reply_to] if in_reply_to else []) + references
    parsed.ticket_no = find_ticket(parsed.subject) or _own_ticket(thread_ids, hostname)
    parsed.mentioned_tickets = [t for t in find_tickets(own_with_signature) if t != parsed.ticket_no][:10]
    if _own_ticket(thread_ids, hostname):
        # The reply points at our own auto-reply, whose id means nothing to the gateway;
        # the ticket number inside it does.
        parsed.thread_key = parsed.ticket_no
    else:
        parsed.thread_key = in_reply_to or (references[-1] if references else None) or parsed.ticket_no
    if parsed.thread_key:
        parsed.thread_key = parsed.thread_key[:MAX_NATIVE_ID]

    names: list[str] = []
    try:
        for part in [msg, *(p for p, _ in leaves)]:
            for d in getattr(part, "defects", []) or []:
                n = type(d).__name__
                if n not in names:
                    names.append(n)
    except Exception:
        pass
    parsed.defects = (parsed.defects + names)[:10]
    return parsed


def parse_unparseable(
    raw: bytes, *, hostname: str, max_text_chars: int = 5000, error: Exception | None = None
) -> ParsedEmail:
    """Last resort: the raw bytes as text, so the citizen's words still reach a person."""
    text, used = decode_bytes(raw[: max_text_chars * 4])
    text = clean_text(text).strip()
    digest = hashlib.sha256(raw).hexdigest()[:40]
    sender = None
    m = re.search(rb"^From:[^\r\n]*?([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})", raw[:65536], re.M | re.I)
    if m:
        sender = m.group(1).decode("ascii", "replace").lower()
    return ParsedEmail(
        native_id=f"unparsed.{digest}@{hostname}",
        message_id=f"unparsed.{digest}@{hostname}",
        message_id_generated=True,
        sender=sender,
        sender_name=None,
        subject=None,
        text=text[:max_text_chars],
        thread_key=None,
        ticket_no=None,
        in_reply_to=None,
        references=[],
        phone=find_mobile(text[:max_text_chars]),
        headers={},
        charset=used,
        truncated=len(text) > max_text_chars,
        unparsed=True,
        defects=[type(error).__name__] if error else [],
    )
