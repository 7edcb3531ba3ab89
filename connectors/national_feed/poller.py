"""Pulls the platform's items into the intake stream and writes replies back (回传).

Redis keys, all under the ``key_prefix`` the gateway hands over (its private namespace for
this connector, e.g. ``hotline:conn:national_feed``); this module is the only one that knows
their shape:

``{p}:cursor``             the platform cursor after the last fully published page
``{p}:imported``           sorted set: item id → import time (unix s); the fast-path dedupe
                           (the database's unique (channel, native_id) is the real one)
``{p}:status``             hash: last poll/success/error and counters, for the admin page
``{p}:skipped``            list (newest first, capped): items that could not be imported
``{p}:writeback:failed``   hash ``{item_id}|{status}[|evaluation]`` → JSON record of a failed write-back
``{p}:lock``               held by the one replica polling right now (a redis-py Lock)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockNotOwnedError

from config.directory import Directory
from connectors.base import DeliveryResult, IntakeUnavailable, Publish
from connectors.national_feed.protocol import FeedClient, FeedError, is_retryable_detail
from connectors.national_feed.settings import NationalFeedSettings

log = logging.getLogger(__name__)

SKIPPED_KEEP = 100
# Failed write-backs that look transient are retried by the run loop this many times
# (each time with the client's own retries), then they wait for an admin.
AUTO_RETRY_LIMIT = 10
AUTO_RETRY_MAX_DELAY = 3600.0

def _s(value: Any) -> str | None:
    """The gateway's Redis client does not decode responses; a test's may: accept both."""
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


@dataclass
class PollResult:
    """What one :meth:`FeedPoller.poll_once` round did."""

    pages: int = 0
    published: int = 0
    duplicates: int = 0
    skipped: int = 0
    cursor: str | None = None
    error: str | None = None
    # Another replica held the poll lock, so this round did nothing (not an error).
    locked_out: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class FeedPoller:
    """One poll round: every page from the persisted cursor, each item published once, the
    cursor advanced only past pages whose items are all on the stream."""

    def __init__(
        self,
        client: FeedClient,
        publish: Publish,
        redis: aioredis.Redis,
        key_prefix: str,
        *,
        poll_seconds: float = 30.0,
        page_size: int = 50,
        max_pages_per_round: int = 200,
        imported_retention_days: int = 180,
        lock_ttl: float = 120.0,
        auto_retry_limit: int = AUTO_RETRY_LIMIT,
    ) -> None:
        self.client = client
        self.publish = publish
        self.redis = redis
        self.prefix = key_prefix.rstrip(":")
        self.poll_seconds = poll_seconds
        self.page_size = page_size
        self.max_pages_per_round = max_pages_per_round
        self.imported_retention = imported_retention_days * 86_400
        self.lock_ttl = lock_ttl
        self.auto_retry_limit = auto_retry_limit
        # Errors that could not even be recorded in Redis (Redis itself is down).
        self.local_errors = 0

    async def close(self) -> None:
        """Release the adapter's HTTP session (if it has one)."""
        close = getattr(self.client, "close", None)
        if close is not None:
            await close()

    # ---- key names ---------------------------------------------------------------------

    @property
    def cursor_key(self) -> str:
        return f"{self.prefix}:cursor"

    @property
    def imported_key(self) -> str:
        return f"{self.prefix}:imported"

    @property
    def status_key(self) -> str:
        return f"{self.prefix}:status"

    @property
    def skipped_key(self) -> str:
        return f"{self.prefix}:skipped"

    @property
    def failed_key(self) -> str:
        return f"{self.prefix}:writeback:failed"

    @property
    def lock_key(self) -> str:
        return f"{self.prefix}:lock"

    # ---- polling -----------------------------------------------------------------------

    async def cursor(self) -> str | None:
        return _s(await self.redis.get(self.cursor_key))

    async def poll_once(self) -> PollResult:
        """Pull and publish everything new.  Failures (platform, intake stream) end the
        round, are recorded in :meth:`status` and returned in ``error``; they do not raise.
        Only a failure of Redis itself (where the state lives) raises."""
        # Several gateway replicas run this poller; one at a time keeps the cursor linear.
        lock = self.redis.lock(self.lock_key, timeout=self.lock_ttl, thread_local=False)
        if not await lock.acquire(blocking=False):
            return PollResult(locked_out=True, cursor=await self.cursor())
        result = PollResult()
        try:
            await self._round(result, lock)
        finally:
            with contextlib.suppress(LockNotOwnedError):  # it lapsed: _round said so in result.error
                await lock.release()
        await self._record_round(result)
        return result

    async def _round(self, result: PollResult, lock: Lock) -> None:
        cursor = await self.cursor()
        result.cursor = cursor
        now = time.time()
        await self.redis.zremrangebyscore(self.imported_key, "-inf", now - self.imported_retention)
        while result.pages < self.max_pages_per_round:
            try:
                page = await self.client.fetch_page(cursor, self.page_size)
            except FeedError as exc:
                result.error = f"fetch: {exc.detail()}"
                return
            result.pages += 1
            for raw in page.items:
                try:
                    message = self.client.to_message(raw)
                except Exception as exc:  # noqa: BLE001 - any unmappable item is skipped, never fatal
                    await self._report_skipped(raw, exc)
                    result.skipped += 1
                    continue
                if await self.redis.zscore(self.imported_key, message.native_id) is not None:
                    result.duplicates += 1
                    continue
                try:
                    await self.publish(message)
                except IntakeUnavailable as exc:
                    # The cursor stays before this page: the next round serves it again,
                    # and the items already published are recognised as duplicates.
                    result.error = f"publish: intake unavailable: {exc}"
                    return
                await self.redis.zadd(self.imported_key, {message.native_id: time.time()})
                result.published += 1
            if page.next_cursor is not None and page.next_cursor != cursor:
                await self.redis.set(self.cursor_key, page.next_cursor)
                cursor = page.next_cursor
                result.cursor = cursor
            elif page.has_more:
                # has_more without a new cursor would serve the same page for ever.
                result.error = "fetch: platform said has_more but gave no new next_cursor"
                return
            if not page.has_more:
                return
            try:
                await lock.reacquire()  # a full lifetime again for the next page
            except LockNotOwnedError:
                result.error = "poll lock expired during the round (pages too slow?)"
                return

    async def _report_skipped(self, raw: Any, exc: Exception) -> None:
        item_id = getattr(exc, "item_id", None)
        if item_id is None and isinstance(raw, dict) and raw.get("id") is not None:
            item_id = str(raw.get("id"))[:64]
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        log.warning("national feed: skipped item %s: %s", item_id or "(no id)", reason)
        # Only the id, the reason and the field names: the item's text is personal data.
        fields = sorted(str(k) for k in raw)[:20] if isinstance(raw, dict) else [type(raw).__name__]
        record = {"item_id": item_id, "reason": reason, "fields": fields, "at": _iso(time.time())}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.skipped_key, json.dumps(record, ensure_ascii=False))
            pipe.ltrim(self.skipped_key, 0, SKIPPED_KEEP - 1)
            await pipe.execute()

    async def _record_round(self, result: PollResult) -> None:
        now = _iso(time.time())
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.status_key, "last_poll_at", now)
            pipe.hincrby(self.status_key, "rounds_total", 1)
            if result.published:
                pipe.hincrby(self.status_key, "published_total", result.published)
            if result.duplicates:
                pipe.hincrby(self.status_key, "duplicates_total", result.duplicates)
            if result.skipped:
                pipe.hincrby(self.status_key, "skipped_total", result.skipped)
            if result.error is None:
                pipe.hset(self.status_key, mapping={"last_success_at": now, "consecutive_errors": 0})
            else:
                pipe.hset(self.status_key, mapping={"last_error": result.error[:1000], "last_error_at": now})
                pipe.hincrby(self.status_key, "errors_total", 1)
                pipe.hincrby(self.status_key, "consecutive_errors", 1)
            await pipe.execute()
        if result.error:
            log.warning("national feed: round failed after %d page(s), %d published: %s",
                        result.pages, result.published, result.error)
        elif result.published or result.skipped:
            log.info("national feed: %d published, %d duplicate, %d skipped (%d page(s))",
                     result.published, result.duplicates, result.skipped, result.pages)

    async def run(self, stop_event: asyncio.Event) -> None:
        """Poll every ``poll_seconds`` until ``stop_event`` is set; back off while failing.

        Meant as the body of the gateway's ``cleanup_ctx`` task and of ``hotline feed``.
        Nothing escapes but cancellation: an error is logged, counted and kept in
        :meth:`status`, and the next round tries again.
        """
        failures = 0
        while not stop_event.is_set():
            ok = False
            try:
                result = await self.poll_once()
                ok = result.ok
                await self.retry_failed(automatic=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any one failure
                self.local_errors += 1
                log.exception("national feed: poll round crashed")
                try:
                    await self.redis.hset(self.status_key, mapping={
                        "last_error": f"{type(exc).__name__}: {exc}"[:1000], "last_error_at": _iso(time.time())})
                    await self.redis.hincrby(self.status_key, "errors_total", 1)
                except Exception:  # noqa: BLE001 - Redis is down; local_errors has it
                    pass
            failures = 0 if ok else failures + 1
            delay = self.poll_seconds
            if failures:
                # 1x, 2x, 4x ... the interval, at most 5 minutes (or the interval if longer).
                delay = min(self.poll_seconds * 2 ** (failures - 1), max(self.poll_seconds, 300.0))
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass

    async def status(self) -> dict[str, Any]:
        """What the admin page shows: last poll/success/error, counters, cursor, backlog of
        failed write-backs."""
        raw = await self.redis.hgetall(self.status_key)
        out: dict[str, Any] = {
            "last_poll_at": None, "last_success_at": None, "last_error": None, "last_error_at": None,
            "consecutive_errors": 0, "errors_total": 0, "rounds_total": 0, "published_total": 0,
            "duplicates_total": 0, "skipped_total": 0, "write_backs_ok_total": 0, "write_backs_failed_total": 0,
        }
        for key, value in raw.items():
            k, v = _s(key), _s(value)
            out[k] = int(v) if k.endswith(("_total", "_errors")) and v is not None and v.lstrip("-").isdigit() else v
        out["cursor"] = await self.cursor()
        out["failed_write_backs"] = int(await self.redis.hlen(self.failed_key))
        out["poll_seconds"] = self.poll_seconds
        out["local_errors"] = self.local_errors
        return out

    async def skipped_items(self, limit: int = SKIPPED_KEEP) -> list[dict[str, Any]]:
        rows = await self.redis.lrange(self.skipped_key, 0, max(0, limit - 1))
        return [json.loads(_s(r)) for r in rows]

    # ---- write-back (回传) ---------------------------------------------------------------

    @staticmethod
    def _failed_field(item_id: str, status: str, evaluation: Mapping[str, Any] | None = None) -> str:
        # An evaluation is its own write-back: a later plain answer must not overwrite a failed one.
        return f"{item_id}|{status}" + ("|evaluation" if evaluation is not None else "")

    async def _send(self, item_id: str, status: str, reply_text: str, handled_at: datetime,
                    evaluation: Mapping[str, Any] | None) -> DeliveryResult:
        try:
            if evaluation is None:  # an adapter without evaluations still serves plain write-backs
                return await self.client.write_back(item_id, status, reply_text, handled_at)
            return await self.client.write_back(item_id, status, reply_text, handled_at, evaluation=evaluation)
        except Exception as exc:  # noqa: BLE001 - a replaced adapter might raise; keep it visible
            return DeliveryResult(False, f"ERROR: {type(exc).__name__}: {exc}")

    async def write_back(self, item_id: str, status: str, reply_text: str, handled_at: datetime, *,
                         evaluation: Mapping[str, Any] | None = None) -> DeliveryResult:
        """Send a ticket's answer/closure (and, ``evaluation``, its 一事一评 result) to the platform;
        a failure is kept for admins (``failed_write_backs``) and for ``retry_failed``, never raised."""
        result = await self._send(item_id, status, reply_text, handled_at, evaluation)
        await self._after_write_back(item_id, status, reply_text, handled_at, result, previous=None,
                                     evaluation=evaluation)
        return result

    async def _after_write_back(
        self, item_id: str, status: str, reply_text: str, handled_at: datetime,
        result: DeliveryResult, previous: dict[str, Any] | None, evaluation: Mapping[str, Any] | None = None,
    ) -> None:
        field = self._failed_field(item_id, status, evaluation)
        if result.delivered:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hdel(self.failed_key, field)
                if status == "closed":
                    # The closing feedback carries the final reply; an earlier failed
                    # "answered" for the item would only be refused as ITEM_CLOSED now.
                    pipe.hdel(self.failed_key, self._failed_field(item_id, "answered"))
                pipe.hincrby(self.status_key, "write_backs_ok_total", 1)
                await pipe.execute()
            return
        if previous is None:
            stored = _s(await self.redis.hget(self.failed_key, field))
            previous = json.loads(stored) if stored else None
        now = time.time()
        attempts = (previous or {}).get("attempts", 0) + 1
        retryable = is_retryable_detail(result.detail)
        delay = min(self.poll_seconds * 2 ** (attempts - 1), AUTO_RETRY_MAX_DELAY)
        record = {
            "item_id": item_id,
            "status": status,
            "reply_text": reply_text,
            "handled_at": handled_at.isoformat(),
            "evaluation": dict(evaluation) if evaluation is not None else None,
            "reason": result.detail,
            "retryable": retryable,
            "attempts": attempts,
            "first_failed_at": (previous or {}).get("first_failed_at") or _iso(now),
            "last_failed_at": _iso(now),
            # When the run loop may retry it by itself (None: only an admin will).
            "next_retry_at": _iso(now + delay) if retryable and attempts < self.auto_retry_limit else None,
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.failed_key, field, json.dumps(record, ensure_ascii=False))
            pipe.hincrby(self.status_key, "write_backs_failed_total", 1)
            pipe.hset(self.status_key, mapping={
                "last_write_back_error": f"{item_id} ({status}): {result.detail}"[:1000],
                "last_write_back_error_at": _iso(now),
            })
            await pipe.execute()
        log.warning("national feed: write-back of item %s (%s) failed (attempt %d): %s",
                    item_id, status, attempts, result.detail)

    async def failed_write_backs(self) -> list[dict[str, Any]]:
        """Every write-back still failing, oldest first: item, status, reply, reason,
        attempts, first/last failure, whether the run loop will retry it by itself."""
        rows = [json.loads(_s(v)) for v in (await self.redis.hgetall(self.failed_key)).values()]
        return sorted(rows, key=lambda r: (r.get("first_failed_at") or "", r["item_id"], r["status"]))

    async def retry_failed(
        self, item_ids: Iterable[str] | None = None, *, automatic: bool = False
    ) -> dict[str, int]:
        """Send failed write-backs again: all of them (an admin's button), those of the
        given items, or with ``automatic`` only transient ones that are due.  Returns
        counts: ``{"retried", "delivered", "failed"}``."""
        wanted = set(item_ids) if item_ids is not None else None
        now = _iso(time.time())
        counts = {"retried": 0, "delivered": 0, "failed": 0}
        for record in await self.failed_write_backs():
            if wanted is not None and record["item_id"] not in wanted:
                continue
            if automatic and (not record.get("next_retry_at") or record["next_retry_at"] > now):
                continue
            counts["retried"] += 1
            handled_at = datetime.fromisoformat(record["handled_at"])
            evaluation = record.get("evaluation")
            result = await self._send(record["item_id"], record["status"], record["reply_text"], handled_at,
                                      evaluation)
            await self._after_write_back(record["item_id"], record["status"], record["reply_text"],
                                         handled_at, result, previous=record, evaluation=evaluation)
            counts["delivered" if result.delivered else "failed"] += 1
        if counts["retried"]:
            log.info("national feed: retried %d failed write-back(s): %d delivered, %d still failing",
                     counts["retried"], counts["delivered"], counts["failed"])
        return counts



def poller_from_settings(
    settings: NationalFeedSettings,
    publish: Publish,
    redis: aioredis.Redis,
    key_prefix: str,
    *,
    directory: Directory | None = None,
) -> FeedPoller | None:
    """The wiring the gateway and ``hotline feed`` need: ``None`` when the feed is
    disabled (``NATIONAL_FEED_URL`` unset), else a poller with its client."""
    if not settings.enabled:
        return None
    from connectors.national_feed.client import NationalPlatformClient

    client = NationalPlatformClient.from_settings(settings, directory=directory)
    return FeedPoller(client, publish, redis, key_prefix,
                      poll_seconds=settings.poll_seconds, page_size=settings.page_size)
