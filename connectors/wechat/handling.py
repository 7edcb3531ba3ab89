"""How one WeChat callback is handled: from a verified message to a stored one and one answer.

WeChat waits 5 s for the answer to a callback, then delivers the same message again (three
deliveries in all).  The flow, per message:

1. The first delivery claims the MsgId in Redis (SET NX), stores the image if any, and
   publishes; only then is anything acknowledged.  If the stream is down the claim is
   released and WeChat gets a 503, so its retry can try again.
2. It waits for the pipeline's answer within the reply budget (default 0.5 s: WeChat holds a
   connection per callback, and a burst must not make every citizen wait).  In time → passive
   reply.  Too late → ``success`` now, and a background task sends the answer as a
   customer-service message when it comes (up to ``deferred_wait`` more seconds).  The message
   carries ``reply_by`` (epoch seconds, ``answer_within`` after the callback): a worker that
   cannot classify it by then stores it unclassified, so the answer is never later than that.
3. A retried delivery never publishes: it waits for the outcome of the first and answers
   with the identical passive reply (WeChat shows one answer per MsgId), or ``success``.
4. Whether the answer goes out passively or deferred is decided by one SET NX on
   ``sent:{MsgId}``, so exactly one of the two ever sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import redis.exceptions

from connectors.base import (
    DeliveryResult,
    InboundMessage,
    IntakeUnavailable,
    Publish,
    ReplyTarget,
    ReportDelivery,
    WaitReply,
)
from connectors.storage import AttachmentRejected, AttachmentStore
from connectors.task_stop import cancel_and_wait
from connectors.wechat.const import CHANNEL, PENDING_GRACE_SECONDS, RETRY_POLL_SECONDS, STORE_SECONDS
from connectors.wechat.inbound import Interpretation, interpret
from connectors.wechat.outbound import WeChatApi, WeChatApiError
from connectors.wechat.security import CallbackCrypto
from connectors.wechat.settings import WeChatSettings
from connectors.wechat.state import Claim, MessageState

log = logging.getLogger(__name__)

# What Redis may raise when it is down or slow: treated like an unavailable stream.
_REDIS_ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError)


class WeChatConnector:
    name = CHANNEL

    def __init__(
        self,
        settings: WeChatSettings,
        *,
        publish: Publish,
        wait_reply: WaitReply,
        attachments: AttachmentStore,
        redis: Any,
        key_prefix: str,
        report_delivery: ReportDelivery | None = None,
    ) -> None:
        if settings.token is None:
            raise ValueError("invalid setting WECHAT_TOKEN: required to serve the WeChat callback")
        self.settings = settings
        self.publish = publish
        self.wait_reply = wait_reply
        self.report_delivery = report_delivery
        self.attachments = attachments
        self.state = MessageState(redis, key_prefix, dedupe_ttl=settings.dedupe_ttl)
        self.api = WeChatApi(settings, redis, key_prefix)
        self.token = settings.token.get_secret_value()
        self.crypto: CallbackCrypto | None = None
        if settings.encoding_aes_key is not None:
            assert settings.app_id is not None  # enforced by the settings
            self.crypto = CallbackCrypto(self.token, settings.encoding_aes_key.get_secret_value(), settings.app_id)
        self._tasks: set[asyncio.Task[Any]] = set()
        # Wall clock for the timestamp window; replaceable so published vectors with
        # their historic timestamps can be replayed in tests.
        self.clock: Callable[[], float] = time.time

    # ---- Connector contract --------------------------------------------------------

    async def send_reply(self, target: ReplyTarget, text: str) -> DeliveryResult:
        """An operator's (or a late bot) answer, as a customer-service message."""
        if target.channel != CHANNEL:
            return DeliveryResult(delivered=False, detail=f"not a WeChat target: {target.channel}")
        if not text or not text.strip():
            return DeliveryResult(delivered=False, detail="empty reply")
        return await self.api.send_text(target.sender_id, text)

    # ---- lifecycle ------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def pending_tasks(self) -> int:
        return len(self._tasks)

    async def aclose(self, *, grace: float = 5.0) -> None:
        """Give deferred deliveries a moment to finish, then stop them and the API pool.

        An answer still pending after the grace period is not sent by us; the gateway
        keeps it with the ticket, where an operator sees it.
        """
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            if pending:
                log.warning("wechat: %d deferred deliveries stopped at shutdown", len(pending))
                await cancel_and_wait(pending)
        await self.api.aclose()

    # ---- one callback ---------------------------------------------------------------

    async def handle(self, fields: dict[str, str], *, mode: str) -> tuple[Interpretation, str | None]:
        """Act on one verified, decrypted message; returns it and the answer text (None → `success`).

        Raises IntakeUnavailable when the message could not be stored (→ HTTP 503).
        """
        it = interpret(fields, mode=mode)
        if it.action == "reply":
            return it, it.reply
        if it.action == "ignore":
            return it, None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.reply_budget
        # Storing gets WeChat's whole window, whatever the passive budget.
        store_by = loop.time() + STORE_SECONDS
        try:
            for _ in range(3):  # a lapsed claim of a failed delivery may be retaken
                claim = await self.state.claim(it.native_id)
                if claim is not None:
                    return it, await self._first_delivery(it, claim, deadline, store_by)
                outcome = await self._retried_delivery(it, deadline, store_by)
                if outcome != "reclaim":
                    return it, outcome
        except _REDIS_ERRORS as exc:
            raise IntakeUnavailable(f"redis: {exc!r}") from exc
        raise IntakeUnavailable("could not claim the message")

    async def _first_delivery(self, it: Interpretation, claim: Claim, deadline: float, store_by: float) -> str | None:
        loop = asyncio.get_running_loop()
        assert it.message is not None
        try:
            message = it.message
            if it.wants_reply:
                reply_by = time.time() + self.settings.answer_within
                message = dataclasses.replace(message, metadata={**message.metadata, "reply_by": round(reply_by, 3)})
            if it.media_id:
                message = await self._with_media(message, it.media_id, store_by)
            entry_id = await asyncio.wait_for(self.publish(message), timeout=max(0.5, store_by - loop.time()))
        except BaseException as exc:
            # Not stored: forget the claim so WeChat's retry publishes it.
            with contextlib.suppress(*_REDIS_ERRORS):  # if so, the claim lapses by its short TTL
                await asyncio.shield(self.state.release(claim))
            if isinstance(exc, Exception):
                raise IntakeUnavailable(f"publish failed: {exc!r}") from exc
            raise
        if not it.wants_reply:
            await self._settle(it, claim=claim, entry_id=entry_id)
            return None
        return await self._answer(it, claim, entry_id, deadline)

    async def _settle(self, it: Interpretation, **kwargs: Any) -> str | None:
        try:
            return await self.state.settle(it.native_id, **kwargs)
        except _REDIS_ERRORS:
            # The message is stored (and the database dedupes), so this is no reason for a
            # 503; but without the delivery claim nobody may send the answer.
            log.warning("wechat %s: redis error while settling", it.native_id, exc_info=True)
            return None

    async def _with_media(self, message: InboundMessage, media_id: str, deadline: float) -> InboundMessage:
        loop = asyncio.get_running_loop()
        meta = dict(message.metadata)
        try:
            # Leave time for publishing; a slow download degrades to PicUrl metadata.
            timeout = max(0.2, deadline - loop.time() - 1.0)
            media = await asyncio.wait_for(self.api.download_media(media_id), timeout=timeout)
            ref = await self.attachments.save(
                media.data, filename=media.filename, content_type=media.content_type, kind="image"
            )
        except (WeChatApiError, AttachmentRejected, TimeoutError, OSError) as exc:
            meta["media_error"] = str(exc) or type(exc).__name__
            log.warning("wechat %s: image %s not stored: %s", message.native_id, media_id, meta["media_error"])
            return dataclasses.replace(message, metadata=meta)
        return dataclasses.replace(message, attachments=(*message.attachments, ref), metadata=meta)

    async def _answer(self, it: Interpretation, claim: Claim, entry_id: str, deadline: float) -> str | None:
        """Wait for the pipeline's answer within the budget, else hand it to a deferred task."""
        loop = asyncio.get_running_loop()
        remaining = max(0.0, deadline - loop.time())
        # One waiter for both phases, so an answer arriving at the switch is not lost.
        waiter = self._spawn(self.wait_reply(CHANNEL, it.native_id, remaining + self.settings.deferred_wait))
        done, _ = await asyncio.wait({waiter}, timeout=remaining)
        if not done:
            await self._settle(it, claim=claim, entry_id=entry_id)  # retries now answer `success`
            self._spawn(self._deliver_later(it, waiter))
            return None
        try:
            text = waiter.result()
        except Exception:
            log.exception("wechat %s: wait_reply failed", it.native_id)
            text = None
        # Mark published, remember the answer for retries and claim it, in one round trip.
        holder = await self._settle(it, claim=claim, entry_id=entry_id, answer=text or None, how="passive")
        return text if holder == "passive" else None

    async def _deliver_later(self, it: Interpretation, waiter: asyncio.Task[str | None]) -> None:
        try:
            text = await waiter
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("wechat %s: wait_reply failed", it.native_id)
            return
        if not text:
            log.info("wechat %s: no answer within the deferred window", it.native_id)
            return
        if await self._settle(it, answer=text, how="deferred") != "deferred":
            return  # a retried delivery already answered passively (or Redis is down)
        result = await self.api.send_text(it.openid, text)
        if result.delivered:
            log.info("wechat %s: answer sent as customer-service message", it.native_id)
        else:
            log.warning("wechat %s: deferred answer not delivered: %s", it.native_id, result.detail)
        if self.report_delivery is not None:
            try:
                await self.report_delivery(CHANNEL, it.native_id, result)
            except Exception:  # the record is a courtesy to operators; the send itself is done
                log.exception("wechat %s: delivery report failed", it.native_id)

    async def _retried_delivery(self, it: Interpretation, deadline: float, store_by: float) -> str | None:
        """A later delivery of a MsgId some delivery already claimed: never publish again."""
        loop = asyncio.get_running_loop()
        status: str | None = None
        while True:
            status, reply, sender = await self.state.snapshot(it.native_id)
            if status is None:
                return "reclaim"  # the first delivery failed to store it and let go
            if status.startswith("published"):
                if sender == "passive":
                    return reply  # the same answer again: WeChat shows one per MsgId
                if sender is not None or not it.wants_reply:
                    return None  # sent (or being sent) as a customer-service message
                if reply is not None:
                    holder = await self.state.claim_delivery(it.native_id, "passive")
                    return reply if holder == "passive" else None
            now = loop.time()
            # The first delivery stores the message by its own store_by, never later than ours
            # (a claim still pending then gets a short grace before we give up), and settles its
            # answer by its deadline: a stored message waits for the answer only until ours.
            pending = status.startswith("pending")
            limit = store_by + PENDING_GRACE_SECONDS if pending else deadline
            if now + RETRY_POLL_SECONDS >= limit:
                break
            await asyncio.sleep(RETRY_POLL_SECONDS)
        if status.startswith("pending"):
            # Still not known to be stored: do not acknowledge, WeChat will retry.
            raise IntakeUnavailable("first delivery still storing the message")
        return None
