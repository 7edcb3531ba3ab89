from datetime import date, datetime, timezone

from config.directory import load_directory
from config.holidays import HolidayOverride
from ticketing.tickets.deadlines import add_workdays, deadline_for, is_workday

NO_OVERRIDE = HolidayOverride()


def test_the_state_council_calendar_comes_from_the_package():
    # Neither day is in config/holidays.yaml: both come from chinese_calendar.
    assert not is_workday(date(2025, 10, 8), NO_OVERRIDE)   # Wednesday, last day of the National Day week
    assert is_workday(date(2025, 9, 28), NO_OVERRIDE)       # Sunday, make-up workday (调休)
    assert not is_workday(date(2026, 2, 17), NO_OVERRIDE)   # Spring Festival
    assert is_workday(date(2026, 10, 10), NO_OVERRIDE)      # Saturday, make-up workday
    assert not is_workday(date(2026, 11, 28), NO_OVERRIDE)  # an ordinary Saturday
    assert is_workday(date(2026, 11, 27), NO_OVERRIDE)      # an ordinary Friday


def test_the_city_override_wins_and_covers_years_the_package_does_not_know():
    override = HolidayOverride(holidays=frozenset({date(2026, 11, 27), date(2027, 10, 1)}),
                               makeup_workdays=frozenset({date(2026, 11, 28)}))
    assert not is_workday(date(2026, 11, 27), override)  # a city-specific day off
    assert is_workday(date(2026, 11, 28), override)      # a local make-up Saturday
    assert not is_workday(date(2027, 10, 1), override)   # a year chinese_calendar 1.11 does not know
    assert is_workday(date(2027, 10, 4), override)       # ... where the rest is Monday to Friday
    assert not is_workday(date(2027, 10, 2), override)


def test_consult_takes_two_working_days_skipping_the_weekend():
    friday = datetime(2026, 11, 27, 2, tzinfo=timezone.utc)  # Friday 10:00 in Pingdingshan
    end = add_workdays(friday, 2)
    assert end.astimezone().date().isoformat() == "2026-12-01"


def test_deadline_by_request_type_and_urgency():
    directory = load_directory()
    start = datetime(2026, 9, 30, 2, tzinfo=timezone.utc)
    # 15 working days across the National Day holiday.
    assert deadline_for(directory, "complaint", start).date().isoformat() == "2026-10-27"
    assert deadline_for(directory, None, start) is None
    urgent = deadline_for(directory, None, start, urgent=True)
    assert urgent.isoformat() == "2026-09-30T15:59:59+00:00"
