"""Open311 API keys from the command line: ``hotline open311 key add|list|revoke NAME``.

Runs outside the web app, so it opens its own engine.  The key is printed once; only its hash is
stored (:mod:`ticketing.open311.keys`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.engine import create_engine, session_factory
from ticketing.errors import ConsoleError
from ticketing.open311 import keys

Result = TypeVar("Result")


async def _in_session(url: str, work: Callable[[AsyncSession], Awaitable[Result]]) -> Result:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def _run(url: str, work: Callable[[AsyncSession], Awaitable[Result]]) -> Result | None:
    try:
        return asyncio.run(_in_session(url, work))
    except ConsoleError as exc:
        print(f"hotline: {exc.message}", file=sys.stderr)
    except (OperationalError, ProgrammingError) as exc:
        print(f"hotline: 数据库尚未初始化或不可用（先运行 hotline db upgrade）：{exc.orig}", file=sys.stderr)
    return None


def add_key(url: str, name: str) -> int:
    issued = _run(url, lambda session: keys.issue(session, name, actor="cli"))
    if issued is None:
        return 2
    print(f"已为应用 {issued.name} 签发 Open311 API 密钥（只显示这一次，请妥善保存）：")
    print(issued.key)
    return 0


def revoke_key(url: str, name: str) -> int:
    revoked = _run(url, lambda session: keys.revoke(session, name, actor="cli"))
    if not revoked:
        print(f"hotline: 没有应用 {name} 的有效密钥", file=sys.stderr)
        return 2
    print(f"已吊销应用 {name} 的 Open311 API 密钥")
    return 0


def list_keys(url: str) -> int:
    rows = _run(url, keys.listed)
    if rows is None:
        return 2
    for row in rows:
        state = "已吊销" if row.revoked_at else "有效"
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "从未使用"
        print(f"{row.name}\t{state}\t签发于 {row.created_at.isoformat(timespec='seconds')}\t最近使用 {used}")
    return 0
