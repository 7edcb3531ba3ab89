"""Calls to WeChat's API: customer-service messages and media downloads.

wechatpy's client is synchronous (requests), so its calls run in a small thread pool owned
by the connector, never on the event loop.  The customer-service message, the one call made
per citizen message when the pipeline is slow (a burst), is a plain JSON POST sent with
aiohttp on the event loop instead: a thread hop and requests cost the web process several
times its CPU, just when it has least to spare.  The access_token is NOT kept per
process: WeChat invalidates the previous token whenever a new one is fetched, so several
gateway processes each fetching their own would keep knocking each other out.  The token
lives in Redis; exactly one process refreshes it at a time (a Redis lock) and the others
wait for it and read the shared value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import orjson
import redis.asyncio as aioredis
import requests
from redis.exceptions import LockNotOwnedError, RedisError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from connectors.base import DeliveryResult
from connectors.wechat.const import (
    ERR_OUT_OF_WINDOW,
    TOKEN_ERRORS,
    TOKEN_EXPIRY_MARGIN,
    TOKEN_LOCK_MS,
    TOKEN_WAIT_SECONDS,
)
from connectors.wechat.settings import WeChatSettings
from connectors.wechat.state import text_of

log = logging.getLogger(__name__)

T = TypeVar("T")

class WeChatApiError(Exception):
    """WeChat answered with an errcode, or could not be reached (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class TokenUnavailable(WeChatApiError):
    pass


class OutboundNotConfigured(WeChatApiError):
    pass


# ---- the shared access_token -------------------------------------------------------


class TokenCache:
    """The access_token of one app, shared through Redis, with one refresher at a time."""

    def __init__(
        self,
        redis: aioredis.Redis,
        key_prefix: str,
        app_id: str,
        fetch: Callable[[], Awaitable[tuple[str, int]]],
        *,
        wait_seconds: float = TOKEN_WAIT_SECONDS,
    ) -> None:
        prefix = key_prefix.rstrip(":")
        self.redis = redis
        self.key = f"{prefix}:token:{app_id}"
        self.lock_key = f"{prefix}:token-lock:{app_id}"
        self._fetch = fetch
        self._wait_seconds = wait_seconds
        # In-process coroutines queue here, so only one of them polls Redis for the lock.
        self._local_lock = asyncio.Lock()

    async def get(self) -> str:
        token = text_of(await self.redis.get(self.key))
        if token:
            return token
        return await self.refresh(stale=None)

    async def refresh(self, *, stale: str | None) -> str:
        """A token other than ``stale``: someone else's fresh one, or one we fetch."""
        async with self._local_lock:
            deadline = time.monotonic() + self._wait_seconds
            while True:
                current = text_of(await self.redis.get(self.key))
                if current and current != stale:
                    return current  # another process (or coroutine) already refreshed
                lock = self.redis.lock(self.lock_key, timeout=TOKEN_LOCK_MS / 1000, thread_local=False)
                if await lock.acquire(blocking=False):
                    try:
                        # Re-read under the lock: the holder before us may just have stored one.
                        current = text_of(await self.redis.get(self.key))
                        if current and current != stale:
                            return current
                        token, expires_in = await self._fetch()
                        ttl = max(60, int(expires_in) - TOKEN_EXPIRY_MARGIN)
                        await self.redis.set(self.key, token, ex=ttl)
                        log.info("wechat access_token refreshed (valid %ss, cached %ss)", expires_in, ttl)
                        return token
                    finally:
                        # A fetch slower than the lock's lifetime lost it already: nothing to free.
                        with contextlib.suppress(LockNotOwnedError):
                            await lock.release()
                if time.monotonic() >= deadline:
                    raise TokenUnavailable(None, "timed out waiting for the access_token refresher")
                await asyncio.sleep(0.05)


# ---- wechatpy's client, one per pool thread ----------------------------------------


class _Client(WeChatClient):
    """wechatpy's client with a configurable base URL and the token given per call.

    wechatpy would keep the token in its session and refresh it by itself (from a
    hard-coded URL, retrying token errors without limit); we want neither.
    """

    def __init__(self, app_id: str, secret: str, base_url: str, timeout: float) -> None:
        super().__init__(app_id, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = base_url
        self.current_token: str | None = None

    @property
    def access_token(self) -> str:  # read by wechatpy for every API call
        if not self.current_token:
            raise TokenUnavailable(None, "no access_token given for this call")
        return self.current_token

    def fetch_access_token(self) -> dict[str, Any]:
        res = self._http.get(
            self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            timeout=min(self.timeout or 10.0, 10.0),  # stay inside the refresher's lock
        )
        res.raise_for_status()
        data = res.json()
        if data.get("errcode"):
            raise WeChatApiError(int(data["errcode"]), str(data.get("errmsg", "")))
        if not data.get("access_token"):
            raise WeChatApiError(None, "token endpoint returned no access_token")
        return data


@dataclass(frozen=True)
class Media:
    data: bytes
    content_type: str
    filename: str


class WeChatApi:
    def __init__(self, settings: WeChatSettings, redis: aioredis.Redis, key_prefix: str) -> None:
        self.settings = settings
        self._pool: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._closed = False
        self._http: aiohttp.ClientSession | None = None
        self.tokens = (
            TokenCache(redis, key_prefix, settings.app_id, self._fetch_token) if settings.outbound_enabled else None
        )

    # pool and clients --------------------------------------------------------------

    def _client(self) -> _Client:
        client = getattr(self._local, "client", None)
        if client is None:
            s = self.settings
            assert s.app_id and s.app_secret
            client = _Client(s.app_id, s.app_secret.get_secret_value(), s.api_base_url, s.api_timeout)
            self._local.client = client
        return client

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise WeChatApiError(None, "connector is shut down")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.api_threads, thread_name_prefix="wechat-api")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def aclose(self) -> None:
        self._closed = True
        http, self._http = self._http, None
        if http is not None:
            await http.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            # Calls in flight end within api_timeout; queued ones are dropped.
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    # token -------------------------------------------------------------------------

    async def _fetch_token(self) -> tuple[str, int]:
        data = await self._in_thread(lambda: self._translate(lambda: self._client().fetch_access_token()))
        return str(data["access_token"]), int(data.get("expires_in") or 7200)

    @staticmethod
    def _translate(fn: Callable[[], T]) -> T:
        """Run a wechatpy call, turning its and requests' exceptions into WeChatApiError."""
        try:
            return fn()
        except WeChatApiError:
            raise
        except WeChatClientException as exc:
            code = int(exc.errcode) if exc.errcode is not None else None
            status = getattr(exc.response, "status_code", None)
            raise WeChatApiError(code, str(exc.errmsg if exc.errmsg is not None else f"HTTP {status}")) from None
        except requests.RequestException as exc:
            raise WeChatApiError(None, f"network error: {type(exc).__name__}") from None
        except ValueError as exc:  # a non-JSON answer where JSON was expected
            raise WeChatApiError(None, f"unreadable answer: {exc}") from None

    async def call(self, fn: Callable[[_Client], T]) -> T:
        """Run ``fn(client)`` in a pool thread with the shared token; on a token error
        refresh it (once, through the one refresher) and retry once."""
        if self.tokens is None:
            raise OutboundNotConfigured(None, "WECHAT_APP_ID / WECHAT_APP_SECRET are not set")
        token = await self.tokens.get()
        try:
            return await self._in_thread(self._call_with, token, fn)
        except WeChatApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("wechat token rejected (%s); refreshing and retrying once", exc.errcode)
        token = await self.tokens.refresh(stale=token)
        return await self._in_thread(self._call_with, token, fn)

    async def call_async(self, fn: Callable[[str], Awaitable[T]]) -> T:
        """``call`` for a coroutine on the event loop taking the token."""
        if self.tokens is None:
            raise OutboundNotConfigured(None, "WECHAT_APP_ID / WECHAT_APP_SECRET are not set")
        token = await self.tokens.get()
        try:
            return await fn(token)
        except WeChatApiError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("wechat token rejected (%s); refreshing and retrying once", exc.errcode)
        token = await self.tokens.refresh(stale=token)
        return await fn(token)

    async def _post_json(self, endpoint: str, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One JSON POST to WeChat's API; an errcode or an unreadable answer → WeChatApiError."""
        if self._closed:
            raise WeChatApiError(None, "connector is shut down")
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.api_timeout))
        try:
            # UTF-8 as is (orjson never escapes): WeChat shows \uXXXX escapes literally.
            async with self._http.post(self.settings.api_base_url + endpoint, params={"access_token": token},
                                       data=orjson.dumps(payload), headers={"Content-Type": "application/json"}) as resp:
                if resp.status != 200:
                    raise WeChatApiError(None, f"HTTP {resp.status}")
                data = orjson.loads(await resp.read())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise WeChatApiError(None, f"network error: {type(exc).__name__}") from None
        except orjson.JSONDecodeError as exc:
            raise WeChatApiError(None, f"unreadable answer: {exc}") from None
        if not isinstance(data, dict):
            raise WeChatApiError(None, "unreadable answer: not a JSON object")
        if data.get("errcode"):
            raise WeChatApiError(int(data["errcode"]), str(data.get("errmsg", "")))
        return data

    def _call_with(self, token: str, fn: Callable[[_Client], T]) -> T:
        client = self._client()
        client.current_token = token
        try:
            return self._translate(lambda: fn(client))
        finally:
            client.current_token = None

    # the calls we make ---------------------------------------------------------------

    async def send_text(self, openid: str, text: str) -> DeliveryResult:
        try:
            payload = {"touser": openid, "msgtype": "text", "text": {"content": text}}
            result = await self.call_async(lambda token: self._post_json("message/custom/send", token, payload))
        except (RedisError, OSError) as exc:  # the shared token lives in Redis
            log.warning("wechat customer-service message to %s not sent: redis %r", openid, exc)
            return DeliveryResult(delivered=False, detail=f"redis unavailable: {type(exc).__name__}")
        except WeChatApiError as exc:
            if exc.errcode == ERR_OUT_OF_WINDOW:
                detail = f"{ERR_OUT_OF_WINDOW} 用户超过48小时未与公众号互动，无法发送客服消息（{exc.errmsg}）"
            elif exc.errcode is None:
                detail = exc.errmsg
            else:
                detail = f"{exc.errcode} {exc.errmsg}"
            log.warning("wechat customer-service message to %s not delivered: %s", openid, detail)
            return DeliveryResult(delivered=False, detail=detail)
        msgid = result.get("msgid") if isinstance(result, dict) else None
        return DeliveryResult(delivered=True, channel_message_id=str(msgid) if msgid is not None else None)

    async def download_media(self, media_id: str) -> Media:
        def fetch(client: _Client) -> Media:
            res = client.media.download(media_id)
            if isinstance(res, dict):  # JSON without errcode: not a file
                raise WeChatApiError(None, "media/get answered JSON instead of a file")
            ctype = res.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
            disposition = res.headers.get("Content-Disposition", "")
            filename = ""
            if "filename=" in disposition:
                filename = disposition.split("filename=", 1)[1].strip().strip('"')
            return Media(res.content, ctype, filename or f"{media_id[:32]}")

        return await self.call(fetch)
