"""The mailbox's side of replies: the automatic receipt with the ticket number, and
operators' replies from the console, both threaded and sent through the relay."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections import OrderedDict

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from connectors.base import DeliveryResult, InboundMessage, ReplyTarget, WaitReply
from connectors.email import texts
from connectors.email.headers import find_ticket, normalize_msgid
from connectors.email.loop_guard import AutoReplyLimiter
from connectors.email.outbound import OutboundMail, build_message, send_via_relay
from connectors.email.parsing import ParsedEmail
from connectors.email.settings import EmailSettings, looks_like_address
from connectors.task_stop import cancel_and_wait

log = logging.getLogger(__name__)

THREAD_TTL_SECONDS = 180 * 86400  # longer than any ticket's handling deadline
MAX_WAITING_AUTO_REPLIES = 100  # each waiter may hold a Redis pub/sub connection
OUTCOME_HISTORY = 1000
OUTBOUND_THREADS = 4  # concurrent relay connections


class EmailConnector:
    """``Connector`` of the email channel (``name = "email"``)."""

    name = "email"

    def __init__(
        self,
        settings: EmailSettings,
        *,
        wait_reply: WaitReply,
        redis: aioredis.Redis,
        key_prefix: str,
    ) -> None:
        self.settings = settings
        self.relay = settings.relay
        self.wait_reply = wait_reply
        self.redis = redis
        self.key_prefix = key_prefix
        self.limiter = AutoReplyLimiter(redis, key_prefix, settings.autoreply_per_hour)
        self._tasks: set[asyncio.Task] = set()
        self._waiters = asyncio.Semaphore(MAX_WAITING_AUTO_REPLIES)
        # native_id -> what happened to its auto-reply ("sent", "suppressed:x-loop", ...):
        # for logs, metrics and tests; bounded.
        self.auto_reply_outcomes: OrderedDict[str, str] = OrderedDict()
        self._closing = False
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=OUTBOUND_THREADS, thread_name_prefix="smtp-out"
        )

    @property
    def loop_token(self) -> str:
        """Our X-Loop value: the mailbox address (X-Loop has no RFC; that is the convention)."""
        return self.settings.primary_address

    def thread_key(self, ticket_no: str) -> str:
        return f"{self.key_prefix}:thread:{ticket_no}"

    # ------------------------------------------------------------------ operator replies

    async def send_reply(self, target: ReplyTarget, text: str) -> DeliveryResult:
        if self.relay is None:
            return DeliveryResult(delivered=False, detail=texts.RELAY_NOT_CONFIGURED)
        to = (target.sender_id or "").strip().lower()
        if not looks_like_address(to):
            return DeliveryResult(delivered=False, detail=texts.INVALID_RECIPIENT)
        ticket_no = find_ticket(target.thread_key) or find_ticket(target.subject) or find_ticket(text)
        in_reply_to: str | None = None
        references: tuple[str, ...] = ()
        subject = target.subject
        if target.thread_key and not find_ticket(target.thread_key) and "@" in target.thread_key:
            in_reply_to = normalize_msgid(target.thread_key)
            if in_reply_to and self._is_generated_id(in_reply_to):
                in_reply_to = None  # an id we made up for a mail without one: no client knows it
            if ticket_no is None:
                ticket_no = await self._ticket_for(normalize_msgid(target.thread_key) or "")
        elif ticket_no:
            thread = await self._thread_for(ticket_no)
            if thread:
                in_reply_to = thread.get("message_id") or None
                subject = subject or thread.get("subject") or None
        if in_reply_to:
            references = (in_reply_to,)
        mail = OutboundMail(
            to=to,
            subject=texts.reply_subject(subject, ticket_no),
            body=texts.operator_reply_body(text, ticket_no),
            in_reply_to=in_reply_to,
            references=references,
            automatic=False,
            ticket_no=ticket_no,
        )
        return await self._send(mail, envelope_from=self.settings.primary_address)

    async def send_notice(self, to: str, subject: str, body: str, *, ticket_no: str | None = None) -> DeliveryResult:
        """A notice the platform sends a unit's inbox (new work, reminders, 督办): marked
        automatic, so the unit's own auto-responder does not answer it."""
        if self.relay is None:
            return DeliveryResult(delivered=False, detail=texts.RELAY_NOT_CONFIGURED)
        address = (to or "").strip().lower()
        if not looks_like_address(address):
            return DeliveryResult(delivered=False, detail=texts.INVALID_RECIPIENT)
        mail = OutboundMail(to=address, subject=subject, body=body, automatic=True, ticket_no=ticket_no)
        return await self._send(mail, envelope_from=self.settings.primary_address)

    async def _send(self, mail: OutboundMail, *, envelope_from: str) -> DeliveryResult:
        try:
            msg, message_id = build_message(
                mail,
                from_address=self.settings.primary_address,
                from_name=self.settings.sender_name,
                hostname=self.settings.server_hostname,
                loop_token=self.loop_token,
            )
        except (ValueError, TypeError, IndexError) as exc:
            log.warning("cannot build a mail to %r: %s", mail.to, exc)
            return DeliveryResult(delivered=False, detail=texts.INVALID_RECIPIENT)
        return await send_via_relay(
            self.relay, msg, envelope_from=envelope_from, to=mail.to, message_id=message_id, executor=self._executor
        )

    # ------------------------------------------------------------------ automatic receipt

    def after_accept(self, parsed: ParsedEmail, message: InboundMessage, suppressed: str | None) -> None:
        """Called by the handler right after the 250: schedule the auto-reply task."""
        if suppressed:
            self._record(message.native_id, f"suppressed:{suppressed}")
            if parsed.ticket_no:
                self._spawn(self._remember_thread(parsed.ticket_no, parsed))
            return
        if self._closing:
            self._record(message.native_id, "skipped:closing")
            return
        self._spawn(self._auto_reply(parsed, message))

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(self, native_id: str, outcome: str) -> None:
        self.auto_reply_outcomes[native_id] = outcome
        self.auto_reply_outcomes.move_to_end(native_id)
        while len(self.auto_reply_outcomes) > OUTCOME_HISTORY:
            self.auto_reply_outcomes.popitem(last=False)
        log.info("auto-reply for %s: %s", native_id, outcome)

    async def _auto_reply(self, parsed: ParsedEmail, message: InboundMessage) -> str:
        native_id = message.native_id
        try:
            outcome = await self._auto_reply_inner(parsed, message)
        except asyncio.CancelledError:
            self._record(native_id, "cancelled")
            raise
        except Exception as exc:  # a failed receipt must never surface anywhere else
            log.exception("auto-reply for %s failed", native_id)
            outcome = f"error:{type(exc).__name__}"
        self._record(native_id, outcome)
        return outcome

    async def _auto_reply_inner(self, parsed: ParsedEmail, message: InboundMessage) -> str:
        if parsed.ticket_no:
            await self._remember_thread(parsed.ticket_no, parsed)
        if self.settings.autoreply_per_hour <= 0:
            return "disabled"
        if self.relay is None:
            return "no-relay"
        sender = message.contact.email
        if not sender:
            return "suppressed:no-sender"
        async with self._waiters:
            reply = await self.wait_reply("email", message.native_id, self.settings.autoreply_wait_seconds)
        refusal = await self.limiter.claim(sender, message.native_id)
        if refusal:
            return f"suppressed:{refusal}"
        ticket_no = find_ticket(reply) or parsed.ticket_no
        refs = [*parsed.references]
        if parsed.message_id not in refs and not parsed.message_id_generated:
            refs.append(parsed.message_id)
        mail = OutboundMail(
            to=sender,
            subject=texts.reply_subject(parsed.subject, ticket_no),
            body=texts.auto_reply_body(reply, ticket_no),
            in_reply_to=None if parsed.message_id_generated else parsed.message_id,
            references=tuple(refs),
            automatic=True,
            ticket_no=ticket_no,
        )
        # Null return path (RFC 3834 §3.3): a bounce of our receipt goes nowhere.
        result = await self._send(mail, envelope_from="")
        if not result.delivered:
            await self.limiter.release(message.native_id)
            return f"failed:{result.detail}"
        if ticket_no and ticket_no != parsed.ticket_no:
            await self._remember_thread(ticket_no, parsed)
        return "sent"

    # ------------------------------------------------------------------ thread memory

    def message_ticket_key(self, message_id: str) -> str:
        return f"{self.key_prefix}:msgticket:{AutoReplyLimiter._digest(message_id)}"

    def _is_generated_id(self, message_id: str) -> bool:
        local, _, domain = message_id.rpartition("@")
        return domain == self.settings.server_hostname and local.startswith(("nomsgid.", "unparsed."))

    async def _remember_thread(self, ticket_no: str, parsed: ParsedEmail) -> None:
        """Latest citizen Message-ID and subject per ticket, and the ticket of each
        Message-ID, so operator replies thread and carry the number either way."""
        mapping = {"subject": parsed.subject or ""}
        if not parsed.message_id_generated:
            mapping["message_id"] = parsed.message_id
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self.thread_key(ticket_no), mapping=mapping)
                pipe.expire(self.thread_key(ticket_no), THREAD_TTL_SECONDS)
                pipe.set(self.message_ticket_key(parsed.message_id), ticket_no.encode(), ex=THREAD_TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("could not remember thread of %s: %s", ticket_no, exc)

    async def _ticket_for(self, message_id: str) -> str | None:
        if not message_id:
            return None
        try:
            raw = await self.redis.get(self.message_ticket_key(message_id))
        except (RedisError, OSError):
            return None
        return find_ticket(raw.decode("ascii", "replace")) if raw else None

    async def _thread_for(self, ticket_no: str) -> dict[str, str] | None:
        try:
            raw = await self.redis.hgetall(self.thread_key(ticket_no))
        except (RedisError, OSError):
            return None
        if not raw:
            return None
        return {
            (k.decode() if isinstance(k, bytes) else k): (v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }

    # ------------------------------------------------------------------ lifecycle

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until every scheduled auto-reply task has finished (tests, shutdown)."""
        while self._tasks:
            done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            if pending and timeout is not None:
                return

    async def aclose(self, grace: float = 5.0) -> None:
        self._closing = True
        if self._tasks:
            await self.drain(timeout=grace)
        await cancel_and_wait(self._tasks)
        self._executor.shutdown(wait=False, cancel_futures=True)
