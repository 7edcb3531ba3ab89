"""``hotline open311 key add|list|revoke``: a key printed once, stored hashed, usable until revoked."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from gateway.runtime import cli
from ticketing.db.engine import create_engine, session_factory
from ticketing.open311 import keys


@pytest.fixture
def db_env(tmp_path, sqlite_template, monkeypatch):
    db = tmp_path / "hotline.sqlite3"
    shutil.copy(sqlite_template, db)
    url = f"sqlite+aiosqlite:///{db}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    return url


def app_of(url: str, key: str) -> str | None:
    async def check() -> str | None:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await keys.app_of(session, key)
        finally:
            await engine.dispose()

    return asyncio.run(check())


def test_a_key_is_printed_once_and_works_until_revoked(db_env, capsys):
    assert cli.main(["open311", "key", "add", "city-app"]) == 0
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("o311_") and len(key) > 40
    assert app_of(db_env, key) == "city-app"
    assert cli.main(["open311", "key", "list"]) == 0
    listing = capsys.readouterr().out
    assert "city-app\t有效" in listing and key not in listing
    assert cli.main(["open311", "key", "add", "city-app"]) == 2
    assert "已有密钥" in capsys.readouterr().err
    assert cli.main(["open311", "key", "revoke", "city-app"]) == 0
    assert app_of(db_env, key) is None
    assert cli.main(["open311", "key", "revoke", "city-app"]) == 2


def test_bad_app_names_are_refused(db_env, capsys):
    assert cli.main(["open311", "key", "add", "City App"]) == 2
    assert "应用名称" in capsys.readouterr().err
