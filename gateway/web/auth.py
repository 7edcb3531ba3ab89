"""Console sessions (aiohttp-session in Redis), the current user, and role checks.

Sessions live in Redis, so any gateway process serves any operator; the cookie holds only
a random key.  Only the console and admin sub-apps have sessions (:func:`use_sessions`).  The
storage needs the Redis client, which exists once the root's resources started, while a sub-app's
middlewares are fixed when it is mounted: the middleware finds the storage's own middleware, built
when the sub-app starts, on the sub-app.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import aiohttp_session
from aiohttp import web
from aiohttp_session import Session
from aiohttp_session.redis_storage import RedisStorage

from gateway.infra.ratelimit import came_over_https, client_address
from gateway.infra.resources import KEYS, REDIS, SESSIONS
from gateway.web.errors import ApiError
from gateway.web.security import check_csrf
from ticketing.accounts.roles import UNIT_ROLES, Actor
from ticketing.db.models.accounts import User

COOKIE_NAME = "hotline_console"
SESSION_MAX_AGE = 12 * 3600  # one long day shift; then log in again
STORAGE: web.AppKey[RedisStorage] = web.AppKey("console_session_storage", RedisStorage)
USER_KEY: web.RequestKey[User | None] = web.RequestKey("console_user")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

OPERATORS = ("operator", "supervisor")
SUPERVISORS = ("supervisor",)
ADMINS = ("admin",)
ANY_ROLE = ("operator", "supervisor", "admin")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConsoleSessionStorage(RedisStorage):
    """RedisStorage with our key prefix, unguessable keys, and per-request cookie flags.

    ``Secure`` is set whenever the request came over HTTPS (directly, through a trusted
    TLS-terminating proxy, or always with ``HOTLINE_SECURE_COOKIES``), so the embedded
    http://127.0.0.1 mode still works.
    """

    def __init__(self, redis, prefix: str, *, max_age: int = SESSION_MAX_AGE) -> None:
        super().__init__(redis, cookie_name=COOKIE_NAME, max_age=max_age, httponly=True, samesite="Lax",
                         key_factory=lambda: secrets.token_urlsafe(32))
        self._prefix = prefix

    def redis_key(self, key: str) -> str:
        return f"{self._prefix}:console:session:{key}"

    async def load_session(self, request: web.Request) -> Session:
        cookie = self.load_cookie(request)
        if cookie:
            raw = await self._redis.get(self.redis_key(str(cookie)))
            if raw is not None:
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
                return Session(str(cookie), data=data, new=False, max_age=self.max_age)
        return Session(None, data=None, new=True, max_age=self.max_age)

    async def save_session(self, request: web.Request, response: web.StreamResponse, session: Session) -> None:
        secure = came_over_https(request)
        key = session.identity
        if session.empty:
            if key is not None:
                await self._redis.delete(self.redis_key(str(key)))
            response.del_cookie(COOKIE_NAME, path="/")
            return
        if key is None:
            key = self._key_factory()
        await self._redis.set(self.redis_key(str(key)), json.dumps(self._get_session_data(session)),
                              ex=self.max_age)
        response.set_cookie(COOKIE_NAME, str(key), max_age=self.max_age, path="/", httponly=True,
                            samesite="Lax", secure=secure)

    async def drop(self, key: str) -> None:
        await self._redis.delete(self.redis_key(key))


SESSION_MW: web.AppKey[Callable] = web.AppKey("console_session_middleware")


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    inner = request.app.get(SESSION_MW)  # request.app: the sub-app this middleware belongs to
    if inner is None:  # the app is starting or stopping
        return await handler(request)
    return await inner(request, handler)


def use_sessions(sub: web.Application, root: web.Application) -> None:
    """Give ``sub`` the console session (cookie ``hotline_console``, data in Redis)."""

    async def start(app: web.Application) -> None:
        storage = ConsoleSessionStorage(root[REDIS], root[KEYS].prefix)
        app[STORAGE] = storage
        app[SESSION_MW] = aiohttp_session.session_middleware(storage)

    sub.middlewares.append(session_middleware)
    sub.on_startup.append(start)


# --------------------------------------------------------------------------- the current user

async def current_user(request: web.Request) -> User | None:
    """The logged-in, active user of this request, or None (cached on the request)."""
    if USER_KEY in request:
        return request[USER_KEY]
    user = None
    if request.config_dict.get(STORAGE) is not None:
        session = await aiohttp_session.get_session(request)
        uid = session.get("uid")
        login_at = session.get("login_at", 0)
        if uid is not None and time.time() - login_at < SESSION_MAX_AGE:
            async with request.config_dict[SESSIONS]() as db:
                candidate = await db.get(User, uid)
            # A deactivated account or a changed password ends every open session at once.
            if candidate is not None and candidate.active and session.get("pw") == _pw_stamp(candidate):
                user = candidate
    request[USER_KEY] = user
    return user


def _pw_stamp(user: User) -> str:
    return user.password_changed_at.isoformat() if user.password_changed_at else ""


async def start_session(request: web.Request, user: User) -> None:
    """A fresh session id at every login, so a planted cookie cannot be taken over."""
    old = await aiohttp_session.get_session(request)
    if old.identity is not None:
        await request.config_dict[STORAGE].drop(str(old.identity))
    session = await aiohttp_session.new_session(request)
    session["uid"] = user.id
    session["login_at"] = int(time.time())
    session["pw"] = _pw_stamp(user)
    request[USER_KEY] = user


async def end_session(request: web.Request) -> None:
    session = await aiohttp_session.get_session(request)
    session.invalidate()
    request[USER_KEY] = None


async def flash(request: web.Request, message: str, kind: str = "info") -> None:
    session = await aiohttp_session.get_session(request)
    messages = list(session.get("flash", []))[-4:]
    messages.append([kind, message])
    session["flash"] = messages


async def pop_flashes(request: web.Request) -> list[tuple[str, str]]:
    if request.config_dict.get(STORAGE) is None:
        return []
    session = await aiohttp_session.get_session(request)
    messages = session.get("flash")
    if not messages:
        return []
    del session["flash"]
    return [(k, m) for k, m in messages]


def user_of(request: web.Request) -> User:
    """The user ``require_role`` admitted (only valid inside a role-checked handler)."""
    user = request[USER_KEY]
    assert user is not None
    return user


def actor_of(request: web.Request) -> Actor:
    return Actor.of(request[USER_KEY], client_address(request))


# --------------------------------------------------------------------------- the decorator

def login_url(request: web.Request) -> str:
    return "/console/login?next=" + quote(request.path_qs, safe="")


def require_role(*roles: str, api: bool | None = None) -> Callable[[Handler], Handler]:
    """Refuse the request unless a logged-in user has one of ``roles``; check CSRF on
    every unsafe method.  API routes answer 401/403 JSON; pages redirect to the login.

    The allowed roles are kept on the handler (``console_roles``): the route × role test
    and the OpenAPI document read them from there.
    """
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            is_api = api if api is not None else request.path.startswith("/api/")
            user = await current_user(request)
            if user is None:
                if is_api:
                    raise ApiError(401, "unauthorized", "请先登录")
                if request.method in SAFE_METHODS:
                    raise web.HTTPFound(login_url(request))
                raise web.HTTPUnauthorized(text="请先登录")
            if user.role not in allowed:
                if user.role in UNIT_ROLES and not is_api and request.method in SAFE_METHODS:
                    raise web.HTTPSeeOther("/desk")  # a unit's handler belongs on the handling desk
                if is_api:
                    raise ApiError(403, "forbidden", "您的角色无权执行此操作")
                raise web.HTTPForbidden(text="您的角色无权访问此页面")
            if request.method not in SAFE_METHODS:
                await check_csrf(request)
            return await handler(request)

        wrapper.console_roles = allowed  # type: ignore[attr-defined]
        return wrapper

    return decorate


def public(handler: Handler) -> Handler:
    """Mark a console route as reachable without login (login page, CSRF token)."""
    handler.console_roles = None  # type: ignore[attr-defined]
    return handler


def roles_of(handler: Any) -> frozenset[str] | None:
    return getattr(handler, "console_roles", None)
