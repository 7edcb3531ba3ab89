"""The adapter to the national platform: the one class to replace if the platform speaks
differently from docs/national-feed.md (the poller needs only the three methods of
:class:`~connectors.national_feed.protocol.FeedClient`)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from config.directory import Directory, load_directory
from connectors.base import DeliveryResult, InboundMessage
from connectors.national_feed.inbound import item_to_message
from connectors.national_feed.protocol import (
    FEEDBACK_PATH,
    ITEMS_PATH,
    MAX_PAGE_SIZE,
    FeedError,
    FeedHTTPError,
    FeedNetworkError,
    FeedPage,
    FeedProtocolError,
    canonical_query,
    feedback_body,
    is_retryable_status,
    parse_page,
    signed_headers,
)
from connectors.national_feed.settings import DEFAULT_HANDLER_UNIT, NationalFeedSettings

log = logging.getLogger(__name__)


class NationalPlatformClient:
    """Signed HTTP calls to the platform (aiohttp), plus the item mapping.

    ``fetch_page`` makes one attempt and raises :class:`FeedError`: the poller's next round
    is its retry.  ``write_back`` retries transient failures (network, 5xx, 429) with
    bounded exponential backoff and never raises for platform trouble; the
    :class:`DeliveryResult` says what happened.
    """

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: str,
        *,
        directory: Directory | None = None,
        handler_unit: str = DEFAULT_HANDLER_UNIT,
        timeout: float = 30.0,
        max_tries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if max_tries < 1:
            raise ValueError("max_tries must be at least 1")
        # Normalised once (percent-encoding, no trailing slash): the path we sign must be
        # byte for byte the path aiohttp puts on the request line.
        self._base = str(URL(base_url.rstrip("/")))
        self._app_key = app_key
        self._app_secret = app_secret
        self.directory = directory or load_directory()
        self.handler_unit = handler_unit
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_tries = max_tries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._session = session
        self._own_session = session is None

    @classmethod
    def from_settings(cls, settings: NationalFeedSettings, **kwargs: Any) -> NationalPlatformClient:
        if not settings.enabled or settings.app_key is None or settings.app_secret is None:
            raise ValueError("the national feed is disabled (NATIONAL_FEED_URL is not set)")
        kwargs.setdefault("handler_unit", settings.handler_unit)
        kwargs.setdefault("timeout", settings.timeout)
        return cls(settings.url, settings.app_key, settings.app_secret.get_secret_value(), **kwargs)

    def __repr__(self) -> str:  # never the secret
        return f"NationalPlatformClient({self._base!r}, app_key={self._app_key!r})"

    # ---- lifecycle ---------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession belongs to the loop it was created in, and the
        # client may be constructed before the gateway's loop runs.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, raise_for_status=False)
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def __aenter__(self) -> NationalPlatformClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- the three methods the poller uses ---------------------------------------------

    async def fetch_page(self, cursor: str | None, limit: int) -> FeedPage:
        limit = max(1, min(int(limit), MAX_PAGE_SIZE))
        data = await self._request("GET", ITEMS_PATH, {"cursor": cursor, "limit": limit})
        return parse_page(data)

    async def write_back(
        self,
        item_id: str,
        status: str,
        reply_text: str,
        handled_at: datetime,
        *,
        handler_unit: str | None = None,
        evaluation: Mapping[str, Any] | None = None,
    ) -> DeliveryResult:
        try:
            body = feedback_body(item_id, status, reply_text, handled_at, handler_unit or self.handler_unit,
                                 evaluation)
        except ValueError as exc:
            # The platform would refuse it with 422; no point in sending, let alone retrying.
            return DeliveryResult(False, f"INVALID: {exc}")
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        path = FEEDBACK_PATH.format(item_id=quote(item_id, safe=""))
        last: FeedError | None = None
        tries = 0
        for tries in range(1, self.max_tries + 1):
            try:
                data = await self._request("POST", path, None, raw)
            except FeedError as exc:
                last = exc
                log.warning("write-back of item %s (%s), try %d/%d: %s",
                            item_id, status, tries, self.max_tries, exc.detail())
                if not exc.retryable or tries == self.max_tries:
                    break
                await asyncio.sleep(self._delay(tries, exc))
                continue
            receipt = data.get("receipt_id") if isinstance(data, dict) else None
            duplicate = bool(isinstance(data, dict) and data.get("duplicate"))
            return DeliveryResult(True, "duplicate" if duplicate else "",
                                  channel_message_id=str(receipt or body["feedback_id"]))
        assert last is not None
        suffix = f" (after {tries} tries)" if tries > 1 else ""
        return DeliveryResult(False, last.detail() + suffix)

    def to_message(self, item: Any) -> InboundMessage:
        return item_to_message(item, self.directory)

    # ---- internals ---------------------------------------------------------------------

    def _delay(self, tries: int, exc: FeedError) -> float:
        if exc.retry_after is not None:
            return min(self.backoff_max, max(0.0, exc.retry_after))
        # Exponential with jitter, so several replicas that failed together do not retry
        # in lockstep against a platform that is just coming back.
        base = min(self.backoff_max, self.backoff_base * (2 ** (tries - 1)))
        return base * random.uniform(0.5, 1.0)

    async def _request(self, method: str, path: str, query: dict[str, Any] | None, body: bytes = b"") -> Any:
        """One signed attempt; the parsed JSON body of a 2xx answer, or :class:`FeedError`."""
        qs = canonical_query(query)
        # Send exactly the canonical query string we signed (encoded=True stops yarl from
        # re-encoding it differently).
        url = URL(self._base + path + (f"?{qs}" if qs else ""), encoded=True)
        headers = signed_headers(self._app_key, self._app_secret, method, url.raw_path, qs, body)
        headers["Accept"] = "application/json"
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with self._http().request(method, url, data=body or None, headers=headers,
                                            timeout=self._timeout) as resp:
                text = await resp.text(encoding="utf-8", errors="replace")
                if resp.status >= 400 or resp.status < 200:
                    raise _http_error(resp.status, text, resp.headers.get("Retry-After"))
                try:
                    return json.loads(text) if text else {}
                except ValueError:
                    raise FeedProtocolError(f"{method} {url.path}: answer is not JSON") from None
        except FeedError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise FeedNetworkError(f"{method} {url.path}: {type(exc).__name__}: {reason}") from exc


def _http_error(status: int, text: str, retry_after: str | None) -> FeedHTTPError:
    """The documented error body when there is one, else the start of whatever came."""
    code, message = "", ""
    try:
        data = json.loads(text)
        err = data.get("error") if isinstance(data, dict) else None
        if isinstance(err, dict):
            code = str(err.get("code") or "")
            message = str(err.get("message") or "")
    except ValueError:
        pass
    if not message:
        message = " ".join(text.split())[:200] or "no error body"
    wait = float(retry_after.strip()) if retry_after and retry_after.strip().isdigit() else None
    return FeedHTTPError(message, status=status, code=code or f"HTTP_{status}",
                         retryable=is_retryable_status(status), retry_after=wait)
