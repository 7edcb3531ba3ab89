"""From the raw bytes of one mail to the facts the intake needs (pure functions, no I/O).

The stdlib parser (``policy.compat32``) does the MIME structure; header words and bodies are
decoded with :mod:`connectors.email.decoding`, because the stdlib trusts declared charsets that
Chinese mail clients routinely get wrong.  Nothing here raises on bad input: a mail that defeats
the parser still yields its raw text (``unparsed=True``).  Headers and identifiers are read in
:mod:`~connectors.email.headers`, MIME parts walked in :mod:`~connectors.email.mime_parts`, and the
citizen's own words cut from quoted replies in :mod:`~connectors.email.quoting`."""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from connectors.email import texts
from connectors.email.decoding import (
    clean_line,
    clean_text,
    decode_bytes,
    html_declared_charset,
    html_to_text,
)
from connectors.email.headers import (
    decode_header_value,
    find_mobile,
    find_ticket,
    find_tickets,
    first_header,
    header_map,
    msgid_list,
    normalize_msgid,
    parse_date,
    parse_sender,
)
from connectors.email.mime_parser import parse_bytes
from connectors.email.mime_parts import (
    NAME_PARAM,
    attached_message_bytes,
    part_charset,
    part_content_type,
    part_disposition,
    part_filename,
    payload_bytes,
    raw_header,
    walk_leaves,
)
from connectors.email.quoting import split_own_text, trim_for_nlu

MAX_NATIVE_ID = 250


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


def _extract(msg: Message, leaves: list[tuple[Message, str]], parsed: ParsedEmail, max_attachments: int) -> str:
    plain: list[str] = []
    html: list[str] = []
    charsets: list[str] = []
    for part, ctype in leaves:
        # Raw checks first: parsing a header that is not there, or has no name, is wasted time.
        disposition = part_disposition(part) if raw_header(part, "content-disposition") is not None else ""
        has_name = disposition or NAME_PARAM.search(raw_header(part, "content-type") or "")
        filename = part_filename(part) if has_name else None
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
                data = payload_bytes(part)
            except Exception:
                parsed.defects.append("UndecodablePayload")
                continue
            declared = part_charset(part)
            if ctype == "text/html" and not declared:
                declared = html_declared_charset(data)
            text, used = decode_bytes(data, declared)
            charsets.append(used)
            text = clean_text(text)
            (html if ctype == "text/html" else plain).append(html_to_text(text) if ctype == "text/html" else text)
            continue
        # Everything else is an attachment (inline images, files, forwarded mails).
        if ctype in ("message/rfc822", "message/global"):
            data = attached_message_bytes(part)
            name = filename or "forwarded.eml"
        else:
            try:
                data = payload_bytes(part)
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
    # compat32: headers kept as the mail wrote them and parsed only where asked.  policy.default
    # runs every header access through the header registry (the parser itself asks for each
    # part's Content-Type): 1.02 ms of CPU per mail against 0.29 ms here; the words are decoded by
    # connectors.email.decoding either way.
    msg = parse_bytes(raw)  # BytesParser's, without a regular expression compiled per multipart boundary
    headers = header_map(msg)

    raw_mid = normalize_msgid(first_header(headers, "message-id"))
    generated = raw_mid is None
    message_id = raw_mid or _generated_id(raw, headers, hostname)

    sender, name = parse_sender(first_header(headers, "from"))
    if sender is None:
        sender, name2 = parse_sender(first_header(headers, "sender") or first_header(headers, "reply-to"))
        name = name or name2
    subject_raw = first_header(headers, "subject")
    subject = clean_line(decode_header_value(subject_raw), 300) if subject_raw is not None else None

    in_reply_to = normalize_msgid(first_header(headers, "in-reply-to"))
    references = msgid_list(" ".join(headers.get("references", [])))

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
        content_type=part_content_type(msg),
        date=parse_date(first_header(headers, "date")),
    )

    leaves = list(walk_leaves(msg))
    body = _extract(msg, leaves, parsed, max_attachments)
    own_text, own_with_signature = split_own_text(body)
    text, truncated = trim_for_nlu(body, max_text_chars, own_text=own_text)
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
