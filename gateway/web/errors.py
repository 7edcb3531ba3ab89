"""One error mechanism for every response: the API answers JSON ``{"error": {"code", "message"}}``
with the right status, a page the Chinese HTML error page.

Nothing a client sends may become a 500: besides our own refusals (``ApiError``, the domain's
errors, aiohttp's ``HTTPException``), a body aiohttp itself cannot parse (malformed multipart, an
unknown charset in a form) is the client's error, 400.  Only our own faults are 500s, and they
are logged.
"""

from __future__ import annotations

import html
import json
import logging
import traceback
import urllib.parse
from typing import Any

import aiohttp.multipart
import aiohttp.web_request
from aiohttp import web

from ticketing.errors import IllegalTransition, TicketNotFound

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: ("bad_request", "请求格式不正确"),
    401: ("unauthorized", "需要登录"),
    403: ("forbidden", "没有权限"),
    404: ("not_found", "未找到"),
    405: ("method_not_allowed", "不支持的请求方法"),
    413: ("payload_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请使用 application/json 提交"),
    429: ("rate_limited", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误，请稍后再试"),
    503: ("unavailable", "服务暂时不可用，请稍后再试"),
}
_PAGE_TITLES = {
    400: "请求有误", 401: "需要登录", 403: "没有权限", 404: "页面不存在", 405: "不支持的请求方法",
    413: "提交内容过大", 415: "不支持的内容格式", 429: "请求过于频繁", 500: "系统出错", 503: "系统繁忙",
}
_API_PREFIXES = ("/api/", "/healthz", "/metrics")
# Where aiohttp parses request bodies: what it raises from there is about the client's bytes.
_BODY_PARSERS = frozenset({aiohttp.multipart.__file__, aiohttp.web_request.__file__, urllib.parse.__file__})
_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · 平顶山12345政务服务便民热线</title>
<link rel="stylesheet" href="/static/citizen/citizen.css">
</head>
<body>
<main id="main" class="main">
<section class="card">
<h1>{title}</h1>
<p class="notice notice-error" role="alert">{message}</p>
<p class="actions"><a class="button" href="/">返回首页</a></p>
</section>
</main>
</body>
</html>
"""


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, **extra}}
    return web.json_response(body, status=status, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


def error_page(status: int, message: str | None = None, title: str | None = None) -> web.Response:
    """The Chinese HTML error page (standalone: it renders even when the templates cannot)."""
    title = title or _PAGE_TITLES.get(status, "请求未能完成")
    message = message or _STATUS_CODES.get(status, ("", "请求未能完成，请返回后重试"))[1]
    page = _PAGE.format(title=html.escape(title), message=html.escape(message))
    response = web.Response(status=status, text=page, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def is_api(request: web.Request) -> bool:
    return request.path.startswith(_API_PREFIXES)


def malformed_body(exc: BaseException) -> bool:
    """Whether ``exc`` is aiohttp refusing the client's body (not a fault of ours)."""
    if not isinstance(exc, (ValueError, LookupError, AssertionError)):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename in _BODY_PARSERS


def _refusal(request: web.Request, status: int, code: str, message: str, **extra: Any) -> web.Response:
    if is_api(request):
        return error_response(status, code, message, **extra)
    return error_page(status, message)


def _own_text(exc: web.HTTPException) -> str | None:
    """The message a handler put in the exception, or None for aiohttp's default body."""
    text = exc.text or ""
    if exc.content_type != "text/plain" or not text or text.startswith(f"{exc.status}: "):
        return None
    return text


@web.middleware
async def json_errors(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, **exc.extra)
    except IllegalTransition as exc:
        return error_response(409, exc.code, str(exc))
    except TicketNotFound as exc:
        return error_response(404, exc.code, str(exc) or "未找到该工单")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if is_api(request):
            code, message = _STATUS_CODES.get(exc.status, ("http_error", exc.reason))
            return error_response(exc.status, code, message)
        if exc.content_type != "text/plain":
            raise  # a handler's own page or document
        return error_page(exc.status, _own_text(exc))
    except Exception as exc:
        if malformed_body(exc):
            return _refusal(request, 400, "malformed_body", "请求内容格式不正确，请返回后重新提交")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _refusal(request, 500, "internal_error", "服务器内部错误，请稍后再试")
