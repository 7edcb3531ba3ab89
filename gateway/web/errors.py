"""Every API error is JSON: ``{"error": {"code", "message"}}`` with the right status."""

from __future__ import annotations

import logging
from typing import Any

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
    503: ("unavailable", "服务暂时不可用，请稍后再试"),
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, **extra}}
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)


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
        if exc.status < 400 or not request.path.startswith(("/api/", "/healthz")):
            raise
        code, message = _STATUS_CODES.get(exc.status, ("http_error", exc.reason))
        return error_response(exc.status, code, message)
    except Exception:
        if not request.path.startswith("/api/"):
            raise
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "服务器内部错误，请稍后再试")
