"""The aiosmtpd handler of the mayor's mailbox: who may receive mail, and what 250 promises.

A 250 is only ever sent after ``publish`` returned, i.e. after the message is durably in the
intake stream.  Anything that keeps it from getting there (Redis down, disk full) is a
451: the sending server keeps the mail and retries.  A mail the parser cannot make sense
of is still accepted with its raw text, so a person can read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections import Counter, deque
from datetime import datetime, timezone
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any, AnyStr

from aiosmtpd.smtp import MISSING, SMTP, syntax

from connectors.base import AttachmentRef, Contact, InboundMessage, IntakeUnavailable, Publish
from connectors.email import loop_guard
from connectors.email.data_reader import read_content
from connectors.email.decoding import clean_text
from connectors.email.parsing import ParsedEmail, parse_email, parse_unparseable
from connectors.email.settings import EmailSettings
from connectors.storage import AttachmentRejected, AttachmentStore

if TYPE_CHECKING:  # pragma: no cover
    from connectors.email.replies import EmailConnector

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 20
# Parsing a few KB inline is cheaper than a thread hop; big mails go to a thread so one
# 20 MB upload does not stall every other session on the loop.
INLINE_PARSE_BYTES = 64 * 1024
UNKNOWN_SENDER = "unknown-sender@invalid"
# <dot-atom@domain> (RFC 5321 Path without source route or quoted local part).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"[ \t]*<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


class HotlineSMTP(SMTP):
    """aiosmtpd's SMTP protocol, tolerant of over-long lines and tracked for shutdown.

    RFC 5321 caps lines at 1000 octets, but webmail clients still send unwrapped HTML; a
    citizen's letter should not bounce for that.  Total size stays capped by SIZE.
    """

    line_length_limit = 256 * 1024

    def __init__(self, handler: MailboxHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        if self._decode_data:
            raise ValueError("the mailbox reads mail as bytes: decode_data must stay off (see smtp_DATA)")
        self._mailbox = handler
        self._client = "?"
        self._refusal: str | None = None  # the 421 of a connection past a cap
        self._pending_lines: list[bytes] = []  # a multi-line reply's lines before its last

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # a new connection, not the STARTTLS re-entry
            self._client = client_address(transport)
            self._refusal = self._mailbox.admit(self)
        super().connection_made(transport)

    async def _handle_client(self) -> None:
        # Each session may buffer a whole mail (up to max_bytes) in memory; past the caps a
        # 421 makes the sending server come back later instead of exhausting memory or slots.
        # (_handle_client is aiosmtpd-internal; the version is pinned in requirements.lock.)
        if self._refusal:
            await self.push(self._refusal)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status: AnyStr) -> None:
        # aiosmtpd writes every line of a multi-line reply with a send of its own: EHLO's six
        # lines were six syscalls and, on a fast peer, six segments, a third of the socket
        # writes of a one-mail session.  Continuation lines ("250-...") wait here and leave
        # with the reply's last line, as one write (RFC 5321 4.2.1: a reply is one unit).
        line = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") if isinstance(status, str) else status
        if line.rpartition(b"\n")[2][3:4] == b"-":
            self._pending_lines.append(line + b"\r\n")
            return
        if self._pending_lines:
            line = b"".join(self._pending_lines) + line
            self._pending_lines.clear()
        await super().push(line)

    def _reset_timeout(self, duration: float | None = None) -> None:
        # aiosmtpd resets the timer on each command: before DATA it is the short idle limit.
        super()._reset_timeout(duration or self._mailbox.settings.command_timeout)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # aiosmtpd's smtp_DATA but for the read of the content (connectors/email/data_reader.py
        # says why); the mailbox keeps bytes (decode_data is off) and always has handle_DATA.
        # The transfer itself may take long (a big mail on a slow line); aiosmtpd does not reset
        # the timer per line, so the whole DATA phase gets the session timeout.
        self._reset_timeout(self._mailbox.settings.session_timeout)
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content, refusal = await read_content(
                self._reader, line_limit=self.line_length_limit, size_limit=self.data_size_limit
            )
        except asyncio.CancelledError:
            log.info("Connection lost during DATA")
            self._writer.close()
            raise
        if refusal is not None:
            await self.push(refusal)
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    def _timeout_cb(self) -> None:
        # Say why before hanging up (RFC 5321 4.5.3.2), so the sender retries instead of guessing.
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"421 4.4.2 Idle too long, closing connection\r\n")
        super()._timeout_cb()

    def connection_lost(self, error: Exception | None) -> None:
        self._mailbox.release(self)
        super().connection_lost(error)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd's own, less the typing.Protocol class it defines on every call (twice per
        # mail, MAIL and RCPT), and with a regular expression for the plain <local@domain> that
        # nearly every sender writes: the stdlib's RFC 5322 tokenizer costs ~50 µs an address.
        if not arg:
            return "", ""
        plain = _PLAIN_PATH.match(arg)
        rest = arg[plain.end():].lstrip(" \t") if plain is not None else ""
        if plain is not None and not rest.startswith("("):  # a comment: the tokenizer's business
            addr = plain.group(1)
        else:
            try:
                address, rest = get_angle_addr(arg) if arg.lstrip().startswith("<") else get_addr_spec(arg)
            except HeaderParseError:
                return None, None
            addr = address.addr_spec
        if self.local_part_limit and len(addr.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return addr, rest


def client_address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "?")


def _attachment_kind(content_type: str) -> str:
    if content_type.startswith("image/"):
        return "image"
    if content_type.startswith("audio/"):
        return "voice"
    return "file"


def _ascii_token(value: Any, limit: int = 200) -> str:
    return re.sub(r"[^\x21-\x7e]", "?", str(value or ""))[:limit]


def _clean_json(value: Any) -> Any:
    """Metadata safe to serialise: strings cleaned of surrogates and control characters."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_json(v) for v in value]
    return value


class ByteBudget:
    """At most ``limit`` bytes of mail in processing at once (one mail always fits), in arrival order.

    A byte-weighted semaphore: the usual mail, small and with nobody waiting, passes without a
    lock or a future (a Condition took a tenth of a mail's own handling time); a mail that does not
    fit waits its turn, and later small ones queue behind it instead of starving it.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def reserve(self, n: int) -> _Reservation:
        return _Reservation(self, n)

    async def acquire(self, n: int) -> None:
        if not self._waiting and self._fits(n):
            self.used += n
            return
        entry = (n, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        try:
            await entry[1]
        except asyncio.CancelledError:
            if entry[1].done() and not entry[1].cancelled():
                self.release(n)  # granted in the same tick as the cancellation
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(entry)
                self._grant()  # those behind it may fit now
            raise

    def release(self, n: int) -> None:
        self.used -= n
        self._grant()

    def _fits(self, n: int) -> bool:
        return self.used == 0 or self.used + n <= self.limit

    def _grant(self) -> None:
        while self._waiting:
            n, waiter = self._waiting[0]
            if waiter.done():  # cancelled; its task removes nothing that is still here
                self._waiting.popleft()
                continue
            if not self._fits(n):
                return
            self._waiting.popleft()
            self.used += n
            waiter.set_result(None)


class _Reservation:
    __slots__ = ("_budget", "_n")

    def __init__(self, budget: ByteBudget, n: int) -> None:
        self._budget = budget
        self._n = n

    async def __aenter__(self) -> None:
        await self._budget.acquire(self._n)

    async def __aexit__(self, *exc_info: object) -> None:
        self._budget.release(self._n)


class MailboxHandler:
    def __init__(
        self,
        settings: EmailSettings,
        *,
        publish: Publish,
        attachments: AttachmentStore,
        connector: EmailConnector,
        memory_budget: int = 64 * 1024 * 1024,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.attachments = attachments
        self.connector = connector
        self.mailboxes = {a.lower() for a in settings.mailbox_addresses}
        self.sessions: set[HotlineSMTP] = set()
        self.per_client: Counter[str] = Counter()
        self.in_flight: set[asyncio.Task] = set()
        # Bounds parse/store memory by bytes, not by count: many small mails proceed in
        # parallel (their fsyncs overlap), a few 20 MB ones take turns.
        self._budget = ByteBudget(max(memory_budget, settings.max_bytes))

    def admit(self, session: HotlineSMTP) -> str | None:
        """Count a new connection in, or return the 421 that refuses it (then it counts nowhere)."""
        client = session._client
        if len(self.sessions) >= self.settings.max_sessions:
            return "421 4.7.0 Too many connections, try again later"
        if self.per_client[client] >= self.settings.max_sessions_per_client:
            log.warning("mailbox: %s holds %d connections already; refusing another", client,
                        self.per_client[client])
            return "421 4.7.0 Too many connections from your address, try again later"
        self.sessions.add(session)
        self.per_client[client] += 1
        return None

    def release(self, session: HotlineSMTP) -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            self.per_client[session._client] -= 1
            if self.per_client[session._client] <= 0:
                del self.per_client[session._client]

    # ------------------------------------------------------------------ SMTP hooks

    async def handle_RCPT(self, server: SMTP, session, envelope, address: str, rcpt_options: list[str]) -> str:
        addr = address.strip().strip("<>").lower()
        if addr not in self.mailboxes:
            # Never an open relay: only our own mailbox addresses are local.
            return "550 5.7.1 Relay access denied: no such mailbox here"
        if any(r.strip().lower() == addr for r in envelope.rcpt_tos):
            return "250 2.1.5 OK"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session, envelope) -> str:
        raw: bytes = envelope.original_content or b""
        if len(raw) > self.settings.max_bytes:  # aiosmtpd enforces it too; belt and braces
            return "552 5.3.4 Message size exceeds fixed maximum message size"
        # Shielded: a client that hangs up while we publish must not cut the publish in
        # half.  The mail then is in the stream without a 250; the sender's retry is
        # deduplicated downstream by Message-ID.
        task = asyncio.ensure_future(self._accept(raw, session, envelope))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        return await asyncio.shield(task)

    async def handle_exception(self, error: Exception) -> str:
        log.exception("SMTP session error", exc_info=error)
        return "451 4.3.0 Temporary server error, please retry"

    # ------------------------------------------------------------------ intake

    async def _accept(self, raw: bytes, session, envelope) -> str:
        received_at = datetime.now(timezone.utc)
        try:
            async with self._budget.reserve(len(raw)):
                parsed = await self._parse(raw)
                try:
                    stored, rejected = await self._store(raw, parsed, session, envelope, received_at)
                except Exception:
                    log.exception("could not store mail from %s", _ascii_token(envelope.mail_from))
                    return "451 4.3.0 Temporary storage failure, please retry"
        except Exception:
            log.exception("unexpected error while reading a mail")
            return "451 4.3.0 Temporary server error, please retry"

        try:
            message, suppressed = self._build(parsed, stored, rejected, session, envelope, received_at)
        except Exception:
            # Should not happen (every field is cleaned), but a bad mail must not be a 451
            # loop either: keep it as raw text under a content-hash id.
            log.exception("could not build the message; falling back to raw text")
            parsed = parse_unparseable(raw, hostname=self.settings.server_hostname,
                                       max_text_chars=self.settings.max_text_chars)
            message, suppressed = self._build(parsed, stored, rejected, session, envelope, received_at)

        try:
            entry_id = await self.publish(message)
        except IntakeUnavailable as exc:
            log.warning("intake stream unavailable, mail %s deferred: %s", message.native_id, exc)
            return "451 4.3.0 Intake temporarily unavailable, please retry"
        except Exception:
            log.exception("publish failed for mail %s", message.native_id)
            return "451 4.3.0 Intake temporarily unavailable, please retry"
        # Stored files are never deleted after a failed publish: the publish may have
        # reached Redis before the error, and then the stream entry refers to them.

        self.connector.after_accept(parsed, message, suppressed)
        return f"250 2.0.0 OK queued as {_ascii_token(entry_id, 64)}"

    async def _parse(self, raw: bytes) -> ParsedEmail:
        kwargs = dict(
            hostname=self.settings.server_hostname,
            max_text_chars=self.settings.max_text_chars,
            max_attachments=self.settings.max_attachments,
        )
        if len(raw) <= INLINE_PARSE_BYTES:
            return parse_email(raw, **kwargs)
        return await asyncio.to_thread(parse_email, raw, **kwargs)

    def _trace_headers(self, session, envelope, received_at: datetime) -> bytes:
        # Return-Path and Received as any final-delivery MTA adds them, so the stored .eml
        # shows where the mail came from (RFC 5321 §4.4).
        peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
        helo = _ascii_token(session.host_name or "unknown", 100)
        proto = "ESMTPS" if session.ssl is not None else ("ESMTP" if session.extended_smtp else "SMTP")
        rcpt = _ascii_token(envelope.rcpt_tos[0] if envelope.rcpt_tos else "", 200)
        return (
            f"Return-Path: <{_ascii_token(envelope.mail_from).strip('<>')}>\r\n"
            f"Received: from {helo} ({_ascii_token(peer, 64)})\r\n"
            f"\tby {self.settings.server_hostname} with {proto} id {uuid.uuid4().hex[:16]}\r\n"
            f"\tfor <{rcpt}>; {format_datetime(received_at)}\r\n"
        ).encode("ascii")

    async def _store(
        self, raw: bytes, parsed: ParsedEmail, session, envelope, received_at: datetime
    ) -> tuple[list[AttachmentRef], list[dict[str, Any]]]:
        rejected = list(parsed.rejected)
        original = self._trace_headers(session, envelope, received_at) + raw
        # All files of one mail are written concurrently, into a pack (one append and one
        # fdatasync for all mails of the batch): the 250 waits for that sync, not for a
        # create, sync and rename per file.
        saves = [
            self.attachments.save(
                original,
                filename="original.eml",
                content_type="message/rfc822",
                kind="original_email",
                check_type=False,
                max_bytes=self.settings.max_bytes + 64 * 1024,
                packed=True,
            )
        ]
        saves += [
            self.attachments.save(
                att.data,
                filename=att.filename,
                content_type=att.content_type,
                kind=_attachment_kind(att.content_type),
                max_bytes=self.settings.attachment_max_bytes,
                packed=True,
            )
            for att in parsed.attachments
        ]
        results = await asyncio.gather(*saves, return_exceptions=True)
        stored = [r for r in results if isinstance(r, AttachmentRef)]
        failure = next(
            (r for r in results if isinstance(r, BaseException) and not isinstance(r, AttachmentRejected)), None
        )
        if failure is not None:
            # Nothing was published yet, so these blobs are referenced by nothing.
            for ref in stored:
                try:
                    self.attachments.discard(ref.storage_key)
                except (OSError, AttachmentRejected):
                    pass
            raise failure
        for att, result in zip(parsed.attachments, results[1:]):
            if isinstance(result, AttachmentRejected):
                rejected.append(
                    {"filename": att.filename, "content_type": att.content_type, "size": len(att.data),
                     "reason": str(result)}
                )
        return stored, rejected

    def _build(
        self,
        parsed: ParsedEmail,
        stored: list[AttachmentRef],
        rejected: list[dict[str, Any]],
        session,
        envelope,
        received_at: datetime,
    ) -> tuple[InboundMessage, str | None]:
        mail_from = clean_text(envelope.mail_from or "").strip("<>").lower()
        sender = parsed.sender or (mail_from if "@" in mail_from else None)
        suppressed = loop_guard.suppression_reason(
            parsed.headers,
            envelope_from=envelope.mail_from,
            sender=sender,
            own_addresses=self.mailboxes,
            loop_token=self.connector.loop_token,
            content_type=parsed.content_type,
        )
        metadata: dict[str, Any] = {
            "message_id": parsed.message_id,
            "message_id_generated": parsed.message_id_generated,
            "in_reply_to": parsed.in_reply_to,
            "references": parsed.references,
            "mail_from": mail_from,
            "rcpt_to": [r.lower() for r in envelope.rcpt_tos],
            "date": parsed.date,
            "charset": parsed.charset,
            "html_only": parsed.html_only,
            "truncated": parsed.truncated,
            "auto_reply": f"suppressed:{suppressed}" if suppressed else "pending",
            "tls": session.ssl is not None,
        }
        if parsed.ticket_no:
            metadata["ticket_no"] = parsed.ticket_no
        if parsed.mentioned_tickets:
            metadata["mentioned_tickets"] = parsed.mentioned_tickets
        if rejected:
            metadata["rejected_attachments"] = rejected
        if parsed.defects:
            metadata["defects"] = parsed.defects
        if parsed.unparsed:
            metadata["unparsed"] = True
        if sender is None:
            metadata["sender_unknown"] = True
        message = InboundMessage(
            channel="email",
            native_id=clean_text(parsed.native_id),
            sender_id=clean_text(sender or UNKNOWN_SENDER)[:254],
            text=clean_text(parsed.text),
            received_at=received_at,
            thread_key=clean_text(parsed.thread_key) if parsed.thread_key else None,
            subject=parsed.subject,
            contact=Contact(name=parsed.sender_name, phone=parsed.phone, email=sender),
            attachments=tuple(stored),
            metadata=_clean_json(metadata),
        )
        message.to_json_bytes()  # proves it serialises before anything is promised
        return message, suppressed

