"""``hotline user add`` and the launcher's first-admin hint."""

from __future__ import annotations

import shutil

import pytest

from gateway.runtime import bootstrap, cli


@pytest.fixture
def db_env(tmp_path, sqlite_template, monkeypatch):
    db = tmp_path / "hotline.sqlite3"
    shutil.copy(sqlite_template, db)
    url = f"sqlite+aiosqlite:///{db}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    return url


def test_first_admin_hint_until_an_admin_exists(db_env, capsys):
    assert "hotline user add admin --role admin" in bootstrap.first_admin_hint(db_env)
    assert cli.main(["user", "add", "admin", "--role", "admin", "--password", "the-admin-pass-1"]) == 0
    assert "已创建账号 admin（管理员）" in capsys.readouterr().out
    assert bootstrap.first_admin_hint(db_env) is None


def test_user_add_prompts_for_the_password(db_env, monkeypatch, capsys):
    answers = iter(["prompted-pass-1", "prompted-pass-1"])
    monkeypatch.setattr(bootstrap.getpass, "getpass", lambda prompt="": next(answers))
    assert cli.main(["user", "add", "li", "--role", "operator", "--display-name", "李坐席"]) == 0
    mismatch = iter(["prompted-pass-1", "something-else"])
    monkeypatch.setattr(bootstrap.getpass, "getpass", lambda prompt="": next(mismatch))
    assert cli.main(["user", "add", "wang", "--role", "operator"]) == 2
    assert "不一致" in capsys.readouterr().err


def test_user_add_refuses_bad_input(db_env, capsys):
    assert cli.main(["user", "add", "li", "--role", "operator", "--password", "short"]) == 2
    assert "密码至少" in capsys.readouterr().err
    assert cli.main(["user", "add", "li", "--role", "operator", "--password", "long-enough-1"]) == 0
    assert cli.main(["user", "add", "li", "--role", "operator", "--password", "long-enough-1"]) == 2
    assert "已存在" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["user", "add", "x", "--role", "root"])


def test_a_handler_belongs_to_one_known_unit(db_env, capsys):
    pw = ["--password", "long-enough-1"]
    assert cli.main(["user", "add", "wjw1", "--role", "handler", "--unit", "health", *pw]) == 0
    assert "已创建账号 wjw1（承办单位经办人，health）" in capsys.readouterr().out
    assert cli.main(["user", "add", "rz1", "--role", "handler", "--unit", "ruzhou", *pw]) == 0
    # No unit, an unknown unit, a district without a remote seat, a unit for platform staff: refused
    # before any password is asked for.
    for args, message in [(["--role", "handler"], "必须指定所属单位"),
                          (["--role", "handler", "--unit", "nowhere"], "未知的单位代码"),
                          (["--role", "handler", "--unit", "xinhua"], "未知的单位代码"),
                          (["--role", "dispatcher", "--unit", "health"], "只有承办单位经办人")]:
        assert cli.main(["user", "add", "x1", *args]) == 2
        assert message in capsys.readouterr().err
    assert cli.main(["user", "add", "zhao", "--role", "dispatcher", *pw]) == 0
    assert cli.main(["user", "add", "hf", "--role", "callback", *pw]) == 0
