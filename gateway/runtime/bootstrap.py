"""Console accounts from the command line: ``hotline user add`` and the first-admin hint.

Both run outside the web app (before the event loop), so each opens its own engine.
"""

from __future__ import annotations

import asyncio
import getpass
import sys

from sqlalchemy.exc import OperationalError, ProgrammingError

from config.directory import load_directory
from ticketing.accounts import users
from ticketing.accounts.users import MIN_PASSWORD_LENGTH, AccountError
from ticketing.db.engine import create_engine, session_factory
from ticketing.db.models.accounts import User

FIRST_ADMIN_HINT = (
    "  还没有管理员账号。创建第一个管理员：\n"
    "      .venv/bin/hotline user add admin --role admin\n"
    "  （不带 --password 时会提示输入密码）；然后登录 /console/login 创建坐席和班长账号。\n"
)


async def _add(url: str, username: str, role: str, password: str, display_name: str | None,
               unit: str | None) -> User:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await users.create_user(session, username, role=role, password=password,
                                           display_name=display_name, actor="cli", unit=unit,
                                           known_units=load_directory().unit_codes)
    finally:
        await engine.dispose()


def add_user(url: str, username: str, role: str, password: str | None, display_name: str | None = None,
             unit: str | None = None) -> int:
    """Create an account; prompts for the password (twice) when none is given.  Exit code."""
    try:
        users.check_unit(role, unit, load_directory().unit_codes)
    except AccountError as exc:  # before asking for a password that would be wasted
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    if password is None:
        password = getpass.getpass(f"{username} 的密码（至少 {MIN_PASSWORD_LENGTH} 位）：")
        if getpass.getpass("再输入一次：") != password:
            print("hotline: 两次输入的密码不一致", file=sys.stderr)
            return 2
    try:
        user = asyncio.run(_add(url, username, role, password, display_name, unit))
    except AccountError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    except (OperationalError, ProgrammingError) as exc:
        print(f"hotline: 数据库尚未初始化或不可用（先运行 hotline db upgrade）：{exc.orig}", file=sys.stderr)
        return 2
    print(f"已创建账号 {user.username}（{user.role_label}{'，' + user.unit if user.unit else ''}）")
    return 0


async def _any_admin(url: str) -> bool:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return await users.any_admin(session)
    finally:
        await engine.dispose()


def first_admin_hint(url: str) -> str | None:
    """The how-to text when the database has no active admin yet, else None."""
    try:
        return None if asyncio.run(_any_admin(url)) else FIRST_ADMIN_HINT
    except (OperationalError, ProgrammingError):
        return None
