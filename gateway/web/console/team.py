"""What the console does for its people, shared by the pages and the JSON API: signing in, shifts,
canned replies, the supervisor's figures and the round-robin switch.

One function per action, so a page and its API twin cannot do different things; each surface only
turns the result (or the ``ApiError``/``ConsoleError``) into its own answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from config.local_time import LOCAL_TZ
from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.resources import KEYS, NLU, REDIS, SESSIONS
from gateway.web.audiences import Config
from gateway.web.auth import start_session
from gateway.web.console.events import assign_backlog, set_auto_assign
from gateway.web.errors import ApiError
from gateway.web.faq_titles import faq_title
from ticketing.accounts import users as accounts_users
from ticketing.accounts.roles import CONSOLE_ROLES
from ticketing.db.models.accounts import User
from ticketing.db.models.base import utcnow
from ticketing.errors import ConsoleError
from ticketing.supervision import stats as supervision_stats
from ticketing.supervision.stats import OperatorStats
from ticketing.tickets import queue

LOGIN_ATTEMPTS_PER_MINUTE = 20


def user_dict(user: User) -> dict[str, Any]:
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "role_label": user.role_label, "active": user.active, "on_shift": user.on_shift,
            "locked": user.locked(), "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None}


async def login_user(request: web.Request, username: str, password: str) -> User:
    """Rate-limited per client, then a fresh session; raises ApiError with the Chinese reason."""
    config = request.config_dict
    if not await RateLimiter(config[REDIS], config[KEYS]).allow("console-login", client_address(request),
                                                                 LOGIN_ATTEMPTS_PER_MINUTE):
        raise ApiError(429, "rate_limited", "登录尝试过于频繁，请稍后再试")
    async with config[SESSIONS]() as session:
        result = await accounts_users.authenticate(session, username, password, ip=client_address(request))
        await session.commit()
    if result.error == "locked":
        until = result.locked_until.astimezone(LOCAL_TZ).strftime("%H:%M") if result.locked_until else ""
        raise ApiError(423, "account_locked", f"登录失败次数过多，账号已锁定，请于 {until} 后重试或联系管理员解锁")
    if result.error == "busy":
        raise ApiError(503, "login_busy", "登录人数过多，请稍后再试")
    if not result.ok:
        raise ApiError(401, "invalid_credentials", "用户名或密码错误")
    await start_session(request, result.user)
    return result.user


async def set_shift(config: Config, username: str, on_shift: bool) -> User:
    async with config[SESSIONS]() as session, session.begin():
        user = await accounts_users.user_by_name(session, username)
        if user is None or user.role not in CONSOLE_ROLES:
            raise ConsoleError(404, "unknown_operator", f"没有坐席 {username}")
        await accounts_users.set_on_shift(session, user, on_shift)
    return user


def faq_answers(config: Config) -> dict[str, str]:
    nlu = config.get(NLU)
    return dict(getattr(nlu, "answers", {}) or {})


def canned_list(rows: list[Any], faq: dict[str, str]) -> list[dict[str, Any]]:
    """The operator's own and the shared canned replies, then the FAQ answers."""
    out = [{"id": r.id, "title": r.title, "text": r.text, "kind": "shared" if r.owner is None else "own"}
           for r in rows]
    out += [{"id": f"faq:{key}", "title": faq_title(key, text), "text": text, "kind": "faq"}
            for key, text in sorted(faq.items()) if key.startswith("faq/")]
    return out


@dataclass(frozen=True)
class Figures:
    days: int
    since: datetime
    operators: list[OperatorStats]
    queue: dict[str, int]


async def supervisor_figures(config: Config, days: int) -> Figures:
    since = utcnow() - timedelta(days=days)
    async with config[SESSIONS]() as session:
        rows = await supervision_stats.operator_stats(session, since=since)
        counts = await queue.queue_counts(session)
    return Figures(days, since, rows, counts)


async def switch_auto_assign(config: Config, enabled: bool) -> int:
    """Turn round-robin assignment on (handing out the waiting backlog at once) or off."""
    await set_auto_assign(config, enabled)
    return await assign_backlog(config) if enabled else 0
