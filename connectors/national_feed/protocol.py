"""The national platform feed protocol as we define it (docs/national-feed.md): signing,
wire models, errors and times (the item → message mapping is :mod:`.inbound`).

Both sides use this module: the client signs with :func:`signed_headers`, the simulator
(and any real server written against our document) checks with :func:`verify_request`, so
the two can never disagree about the string to sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import quote

from connectors.base import DeliveryResult, InboundMessage

CHANNEL = "national_platform"

ITEMS_PATH = "/api/v1/items"
FEEDBACK_PATH = "/api/v1/items/{item_id}/feedback"

HEADER_APP_KEY = "X-App-Key"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"

# A request is accepted only within this many seconds of the server's clock, and a nonce
# must not repeat within it: together they make a captured request useless after the window.
TIMESTAMP_WINDOW_SECONDS = 300
MAX_PAGE_SIZE = 100
MAX_REPLY_CHARS = 5000

FEEDBACK_STATUSES = ("answered", "closed")
# 一事一评: what the citizen (or a callback seat on the phone) said about the answer.
EVALUATION_SATISFACTION = ("satisfied", "basic", "unsatisfied")
EVALUATION_SOURCES = ("link", "callback")
MAX_EVALUATION_COMMENT = 1000

# China has had no daylight saving time since 1991: a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}\Z")
_HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}\Z")

# ---- errors ----------------------------------------------------------------------------------

class FeedError(Exception):
    """A call to the platform failed.  ``retryable`` says whether trying again may help."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after  # seconds, from a Retry-After header

    def detail(self) -> str:
        """One line for logs, admin pages and :attr:`DeliveryResult.detail`."""
        if self.status is not None:
            return f"HTTP {self.status} {self.code or '-'}: {self.message}"
        return f"{self.code or 'ERROR'}: {self.message}"


class FeedHTTPError(FeedError):
    """The platform answered with an error status (the documented error body, if any)."""


class FeedNetworkError(FeedError):
    """No answer: connection refused or reset, DNS, timeout."""

    def __init__(self, message: str):
        super().__init__(message, code="NETWORK", retryable=True)


class FeedProtocolError(FeedError):
    """The platform answered 2xx with something that is not the documented shape."""

    def __init__(self, message: str):
        # A server that breaks the protocol once will usually do it again; still, the next
        # poll round tries anyway, so this is only about write-back retries.
        super().__init__(message, code="PROTOCOL", retryable=False)


class BadItem(ValueError):
    """An item that cannot become a message (no id, no content): skipped and reported."""

    def __init__(self, item_id: str | None, reason: str):
        super().__init__(f"item {item_id or '(no id)'}: {reason}")
        self.item_id = item_id
        self.reason = reason


def is_retryable_status(status: int) -> bool:
    """5xx and 429 are worth retrying; any other 4xx means the request itself is wrong."""
    return status >= 500 or status == 429


def is_retryable_detail(detail: str) -> bool:
    """Whether a failed write-back's :attr:`DeliveryResult.detail` (as the client formats
    it) describes a transient failure.  Kept beside :meth:`FeedError.detail` so format and
    parse change together."""
    if detail.startswith("NETWORK"):
        return True
    m = re.match(r"HTTP (\d{3}) ", detail)
    return bool(m) and is_retryable_status(int(m.group(1)))


def error_body(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    """The documented error body: ``{"error": {"code", "message"}, "request_id"}``."""
    return {"error": {"code": code, "message": message}, "request_id": request_id or secrets.token_hex(8)}


# ---- signing ---------------------------------------------------------------------------------

def _enc(value: str) -> str:
    # RFC 3986: only unreserved characters stay literal, so both sides encode alike.
    return quote(value, safe="-_.~")


def canonical_query(query: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> str:
    """``k=v`` pairs, percent-encoded (RFC 3986), sorted by key then value, joined by ``&``.

    Accepts a mapping, a multidict (aiohttp's ``request.query``) or pairs.  ``None`` values
    are left out, so the client can pass ``cursor=None`` and sign what it actually sends.
    """
    if query is None:
        return ""
    items = query.items() if hasattr(query, "items") else query
    pairs = sorted((_enc(str(k)), _enc(str(v))) for k, v in items if v is not None)
    return "&".join(f"{k}={v}" for k, v in pairs)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
    """``METHOD\\nPATH\\nCANONICAL_QUERY\\nTIMESTAMP\\nNONCE\\nhex(sha256(body))``.

    ``path`` is the percent-encoded path exactly as it appears in the request line,
    ``query`` already canonical (see :func:`canonical_query`).
    """
    return "\n".join((method.upper(), path, query, timestamp, nonce, body_digest(body)))


def sign(app_secret: str, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path, query, timestamp, nonce, body)
    return hmac.new(app_secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(16)


def signed_headers(
    app_key: str,
    app_secret: str,
    method: str,
    path: str,
    query: str,
    body: bytes = b"",
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four authentication headers for one request (a fresh nonce every call, so a
    retried request is a new request, never a replay)."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    nonce = nonce or new_nonce()
    return {
        HEADER_APP_KEY: app_key,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(app_secret, method, path, query, ts, nonce, body),
    }


@dataclass(frozen=True)
class AuthFailure:
    """Why :func:`verify_request` refused a request: HTTP 401 with this code."""

    code: str
    message: str


def verify_request(
    *,
    app_key: str,
    app_secret: str,
    method: str,
    path: str,
    query: Mapping[str, Any] | Iterable[tuple[str, Any]] | None,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    window: int = TIMESTAMP_WINDOW_SECONDS,
    nonce_seen: Any = None,
) -> AuthFailure | None:
    """Server-side check of the four headers; ``None`` when the request is authentic.

    ``nonce_seen(nonce) -> bool`` is called only after the signature matched (so forged
    requests cannot burn nonces) and must remember the nonce for at least ``2 * window``.
    """
    got_key = headers.get(HEADER_APP_KEY)
    ts = headers.get(HEADER_TIMESTAMP)
    nonce = headers.get(HEADER_NONCE)
    signature = headers.get(HEADER_SIGNATURE)
    if not (got_key and ts and nonce and signature):
        return AuthFailure("MISSING_AUTH", "缺少认证头：X-App-Key、X-Timestamp、X-Nonce、X-Signature")
    if not hmac.compare_digest(got_key.encode(), app_key.encode()):
        return AuthFailure("INVALID_APP_KEY", "应用标识（App Key）无效")
    if not ts.isdigit():
        return AuthFailure("TIMESTAMP_EXPIRED", "时间戳格式错误，应为Unix秒数")
    now = time.time() if now is None else now
    if abs(now - int(ts)) > window:
        return AuthFailure("TIMESTAMP_EXPIRED", f"时间戳超出允许范围（±{window}秒），请校准时钟")
    if not _NONCE_RE.match(nonce):
        return AuthFailure("INVALID_SIGNATURE", "随机串（X-Nonce）格式错误，应为16至64位字母数字")
    if not _HEX64_RE.match(signature):
        return AuthFailure("INVALID_SIGNATURE", "签名格式错误")
    expected = sign(app_secret, method, path, canonical_query(query), ts, nonce, body)
    if not hmac.compare_digest(expected, signature.lower()):
        return AuthFailure("INVALID_SIGNATURE", "签名校验失败")
    if nonce_seen is not None and nonce_seen(nonce):
        return AuthFailure("NONCE_REUSED", "随机串已使用，疑似重放请求")
    return None


# ---- wire models -----------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedPage:
    """One answer of ``GET /api/v1/items``.  Items stay raw: each is mapped (and possibly
    rejected) on its own, so one bad item never spoils its page."""

    items: tuple[Any, ...]
    next_cursor: str | None
    has_more: bool


def parse_page(data: Any) -> FeedPage:
    if not isinstance(data, dict):
        raise FeedProtocolError("page is not a JSON object")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedProtocolError("page has no 'items' list")
    cursor = data.get("next_cursor")
    if cursor is not None and not isinstance(cursor, (str, int)):
        raise FeedProtocolError("'next_cursor' is neither a string nor null")
    has_more = data.get("has_more", False)
    if not isinstance(has_more, bool):
        raise FeedProtocolError("'has_more' is not a boolean")
    return FeedPage(tuple(items), None if cursor in (None, "") else str(cursor), has_more)


def feedback_id(item_id: str, status: str, reply_text: str, handled_at: datetime,
                evaluation: Mapping[str, Any] | None = None) -> str:
    """Deterministic id of one write-back, sent in the body so the platform can drop
    repeats: a retry after a lost response, a replayed failure or a second gateway replica
    all send the same id for the same feedback."""
    parts = [item_id, status, handled_at.astimezone(timezone.utc).isoformat(), reply_text]
    if evaluation is not None:
        # Only when present, so the ids of plain feedback stay what they always were.
        parts.append(json.dumps(evaluation, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:32]


def evaluation_error(evaluation: Any) -> str | None:
    """Why an ``evaluation`` object is invalid (the platform answers 422), or None."""
    if not isinstance(evaluation, Mapping):
        return "evaluation must be an object"
    if not isinstance(evaluation.get("solved"), bool):
        return "evaluation.solved must be true or false"
    if evaluation.get("satisfaction") not in EVALUATION_SATISFACTION:
        return f"evaluation.satisfaction must be one of {', '.join(EVALUATION_SATISFACTION)}"
    comment = evaluation.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_EVALUATION_COMMENT):
        return f"evaluation.comment must be text of at most {MAX_EVALUATION_COMMENT} characters"
    if evaluation.get("source") not in EVALUATION_SOURCES:
        return f"evaluation.source must be one of {', '.join(EVALUATION_SOURCES)}"
    if parse_platform_time(evaluation.get("evaluated_at")) is None:
        return "evaluation.evaluated_at must be an ISO 8601 time with offset"
    return None


def evaluation_body(solved: bool, satisfaction: str, comment: str | None, evaluated_at: datetime,
                    source: str) -> dict[str, Any]:
    """The ``evaluation`` object of a feedback (一事一评 result); raises ``ValueError`` if invalid."""
    if evaluated_at.tzinfo is None:
        raise ValueError("evaluated_at must be timezone-aware")
    body: dict[str, Any] = {"solved": solved, "satisfaction": satisfaction,
                            "evaluated_at": evaluated_at.astimezone(BEIJING).isoformat(timespec="seconds"),
                            "source": source}
    if comment:
        body["comment"] = comment
    problem = evaluation_error(body)
    if problem:
        raise ValueError(problem)
    return body


def feedback_body(
    item_id: str, status: str, reply_text: str, handled_at: datetime, handler_unit: str,
    evaluation: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/items/{id}/feedback``; raises ``ValueError`` for
    values the platform would refuse anyway (so they are not sent, let alone retried)."""
    if status not in FEEDBACK_STATUSES:
        raise ValueError(f"status must be one of {', '.join(FEEDBACK_STATUSES)}")
    if not reply_text or not reply_text.strip():
        raise ValueError("reply text is empty")
    if len(reply_text) > MAX_REPLY_CHARS:
        raise ValueError(f"reply text is longer than {MAX_REPLY_CHARS} characters")
    if handled_at.tzinfo is None:
        raise ValueError("handled_at must be timezone-aware")
    if evaluation is not None and (problem := evaluation_error(evaluation)):
        raise ValueError(problem)
    body = {
        "feedback_id": feedback_id(item_id, status, reply_text, handled_at, evaluation),
        "status": status,
        "reply": reply_text,
        # The platform works in Beijing time; the explicit offset removes any doubt.
        "handled_at": handled_at.astimezone(BEIJING).isoformat(timespec="seconds"),
        "handler_unit": handler_unit,
    }
    if evaluation is not None:
        body["evaluation"] = dict(evaluation)
    return body


# ---- times -----------------------------------------------------------------------------------

def parse_platform_time(value: Any, *, end_of_day: bool = False) -> datetime | None:
    """A platform time as an aware datetime; ``None`` when absent or unreadable.

    The platform sends Beijing wall time (``2024-05-06 09:30:00``); an explicit offset or
    ``Z`` is honoured.  A bare date (``2024-05-20``, common for 办理时限) means the whole day:
    with ``end_of_day`` it becomes 23:59:59 Beijing time.  Unix seconds/milliseconds are
    accepted too.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 100_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip().replace("/", "-")
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        y, m, d = (int(p) for p in text.split("-"))
        try:
            day = date(y, m, d)
        except ValueError:
            return None
        clock = (23, 59, 59) if end_of_day else (0, 0, 0)
        return datetime(day.year, day.month, day.day, *clock, tzinfo=BEIJING)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=BEIJING)


# ---- the replaceable adapter's interface -----------------------------------------------------

class FeedClient(Protocol):
    """What :class:`~connectors.national_feed.poller.FeedPoller` needs from the adapter.

    :class:`~connectors.national_feed.client.NationalPlatformClient` is the implementation
    for our documented protocol; a platform that speaks differently gets another class with
    these three methods, and nothing else changes.
    """

    async def fetch_page(self, cursor: str | None, limit: int) -> FeedPage:
        """Raises :class:`FeedError` on any failure."""
        ...

    async def write_back(
        self, item_id: str, status: str, reply_text: str, handled_at: datetime, *,
        evaluation: Mapping[str, Any] | None = None,
    ) -> DeliveryResult:
        """Never raises for platform trouble: the reason is in ``detail``.  ``evaluation``: the
        一事一评 result (:func:`evaluation_body`), only passed when there is one."""
        ...

    def to_message(self, item: Any) -> InboundMessage:
        """Raises :class:`BadItem` for an item that cannot be imported."""
        ...
