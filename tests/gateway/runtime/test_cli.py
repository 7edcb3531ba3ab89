"""The command line refuses to start on broken configuration, naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.holidays import HolidayError, load_holiday_override
from gateway.runtime import cli


def test_check_reports_the_configuration(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    assert cli.main(["check"]) == 0
    assert "settings ok" in capsys.readouterr().out


def test_a_broken_holiday_override_stops_start_up(monkeypatch, tmp_path: Path, capsys):
    broken = tmp_path / "holidays.yaml"
    broken.write_text("holidays: [2026-10-01]\nmakeup_workdays: [2026-10-01]\n", encoding="utf-8")
    with pytest.raises(HolidayError) as raised:
        load_holiday_override(broken)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))

    def broken_override():
        raise raised.value

    monkeypatch.setattr(cli, "load_holiday_override", broken_override)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["check"])
    assert stopped.value.code == 2
    assert "2026-10-01 listed both as a holiday and as a make-up workday" in capsys.readouterr().err
