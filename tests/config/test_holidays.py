"""The city's holiday override file: read, checked, and holding nothing the package already says."""

from datetime import date
from pathlib import Path

import chinese_calendar
import pytest

from config.holidays import HolidayError, HolidayOverride, load_holiday_override


def test_the_override_file_is_read_and_checked(tmp_path: Path):
    def override_file(name: str, text: str) -> Path:  # one file each: the loader caches by path
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    good = override_file("good.yaml", "holidays:\n  - 2027-10-01\nmakeup_workdays:\n")
    assert load_holiday_override(good) == HolidayOverride(holidays=frozenset({date(2027, 10, 1)}))
    both = override_file("both.yaml", "holidays: [2027-10-01]\nmakeup_workdays: [2027-10-01]\n")
    with pytest.raises(HolidayError, match="2027-10-01"):
        load_holiday_override(both)
    misspelt = override_file("misspelt.yaml", "holiday: [2027-10-01]\n")
    with pytest.raises(HolidayError, match="holiday"):
        load_holiday_override(misspelt)


def test_the_shipped_override_lists_only_what_the_package_does_not_say():
    override = load_holiday_override()
    for day in override.holidays:
        assert _unknown_or(lambda: chinese_calendar.is_workday(day), day), day
    for day in override.makeup_workdays:
        assert _unknown_or(lambda: not chinese_calendar.is_workday(day), day), day


def _unknown_or(check, day: date) -> bool:
    try:
        return check()
    except NotImplementedError:
        return True
