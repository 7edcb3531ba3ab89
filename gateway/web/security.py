"""The secret key, CSRF tokens and response security headers.

CSRF uses a signed double-submit cookie: the form field must equal the ``hotline_csrf``
cookie and carry our HMAC, so it works for anonymous citizens and logged-in operators alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from gateway.infra.resources import SECRET

CSRF_COOKIE = "hotline_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_REQUEST_TOKEN: web.RequestKey[str] = web.RequestKey("hotline_csrf_token", str)


def resolve_secret_key(settings: Settings) -> bytes:
    """HOTLINE_SECRET_KEY, or (embedded mode) a random key kept under the data dir."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _sign(secret: bytes, nonce: str) -> str:
    mac = hmac.new(secret, b"csrf:" + nonce.encode(), hashlib.sha256).digest()
    return f"{nonce}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


def _valid(secret: bytes, token: str) -> bool:
    nonce, _, _mac = token.partition(".")
    return bool(nonce) and hmac.compare_digest(_sign(secret, nonce), token)


def csrf_token(request: web.Request) -> str:
    """The token for this client (the cookie's, or a new one the middleware will set)."""
    if _REQUEST_TOKEN in request:
        return request[_REQUEST_TOKEN]
    secret = request.config_dict[SECRET]
    cookie = request.cookies.get(CSRF_COOKIE, "")
    token = cookie if cookie and _valid(secret, cookie) else _sign(secret, secrets.token_urlsafe(16))
    request[_REQUEST_TOKEN] = token
    return token


class LazyCsrfToken:
    """The token as a page shows it, read only when the page renders it.

    The templates' context is built for every request (aiohttp_jinja2's context processor runs
    in a middleware), JSON API calls included: minting the token there sent a ``Set-Cookie``
    with every API 202.  Now a response carries the cookie only if it shows the token."""

    __slots__ = ("_request",)

    def __init__(self, request: web.Request) -> None:
        self._request = request

    def __str__(self) -> str:
        return csrf_token(self._request)

    def __html__(self) -> str:  # Jinja's autoescape: the token is URL-safe base64 and a dot
        return csrf_token(self._request)


async def check_csrf(request: web.Request) -> None:
    """Raise 403 unless the form field or header matches the signed cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        given = str(form.get(CSRF_FIELD, ""))
    if not (cookie and given and hmac.compare_digest(cookie, given) and _valid(request.config_dict[SECRET], cookie)):
        raise web.HTTPForbidden(text="CSRF 校验失败，请刷新页面后重试")


# Sent with every response (pages, JSON, files, redirects and errors alike); a handler may set
# its own Content-Security-Policy (the API document's viewer does).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"),
}
# aiohttp's default names its version and Python's: nothing an attacker should be told.
SERVER_NAME = "hotline"


@web.middleware
async def csrf_cookie(request: web.Request, handler):
    """Set the CSRF cookie when this request minted the token (a redirect may carry it too)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _remember_token(request, exc)
        raise
    _remember_token(request, response)
    return response


def _remember_token(request: web.Request, response: web.StreamResponse) -> None:
    token = request.get(_REQUEST_TOKEN)
    if token and request.cookies.get(CSRF_COOKIE) != token and not response.prepared:
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/")


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: runs for every response of the app, however it was produced."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = SERVER_NAME


def setup_security(app: web.Application) -> None:
    app.middlewares.append(csrf_cookie)
    app.on_response_prepare.append(add_security_headers)
