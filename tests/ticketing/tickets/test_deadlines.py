from datetime import date, datetime, timedelta, timezone

from config.directory import load_directory
from config.holidays import HolidayOverride
from config.local_time import LOCAL_TZ
from ticketing.tickets.deadlines import add_workdays, deadline_for, is_workday, workdays_left
from ticketing.workflow.timing import sign_deadline

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


# 2026's Spring Festival in chinese_calendar: days off Sunday 15 to Monday 23 February; Saturdays
# 14 and 28 February are make-up workdays (调休).
def test_the_2026_spring_festival_calendar_as_the_package_knows_it():
    assert [is_workday(date(2026, 2, d), NO_OVERRIDE) for d in range(13, 25)] == [
        True, True, *[False] * 9, True]
    assert is_workday(date(2026, 2, 28), NO_OVERRIDE) and not is_workday(date(2026, 3, 1), NO_OVERRIDE)


def _local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def test_a_complaint_dispatched_the_day_before_the_spring_festival_skips_the_holiday():
    directory = load_directory()
    # Saturday 14 February 2026 (a make-up workday), 10:00 local: 15 working days are
    # 24–28 February (5, the 28th a make-up Saturday), 2–6 March (10) and 9–13 March (15).
    start = datetime(2026, 2, 14, 2, tzinfo=timezone.utc)
    assert _local(deadline_for(directory, "complaint", start)) == "2026-03-13 23:59:59"
    # A day earlier, Friday the 13th, the make-up Saturday itself counts as the first working day.
    assert _local(deadline_for(directory, "complaint", start - timedelta(days=1))) == "2026-03-12 23:59:59"
    # A consult (2 working days) on the last day before the holiday ends on the 25th.
    assert _local(deadline_for(directory, "consult", start)) == "2026-02-25 23:59:59"


def test_a_one_day_sign_deadline_lands_on_the_make_up_saturday():
    directory = load_directory()
    assert directory.handling.sign_within_workdays == 1
    friday_evening = datetime(2026, 2, 13, 11, 30, tzinfo=timezone.utc)  # 19:30 local
    assert _local(sign_deadline(directory, friday_evening)) == "2026-02-14 23:59:59"
    after_the_festival = datetime(2026, 2, 27, 1, tzinfo=timezone.utc)  # Friday 27 February, 09:00
    assert _local(add_workdays(after_the_festival, 1, NO_OVERRIDE)) == "2026-02-28 23:59:59"
    # Dispatched on the make-up Saturday: the next working day is after the whole holiday.
    assert _local(add_workdays(datetime(2026, 2, 14, 2, tzinfo=timezone.utc), 1, NO_OVERRIDE)) == "2026-02-24 23:59:59"


def test_a_dispatch_during_the_holiday_counts_from_the_first_day_back():
    start = datetime(2026, 2, 17, 2, tzinfo=timezone.utc)  # 初一, a day off
    assert _local(add_workdays(start, 1, NO_OVERRIDE)) == "2026-02-24 23:59:59"
    # A day off adds nothing: the same end as a dispatch on the make-up Saturday before it.
    assert _local(add_workdays(start, 15, NO_OVERRIDE)) == "2026-03-13 23:59:59"


def test_the_city_override_moves_a_deadline_across_the_festival():
    # The city gives 24 February off as well and makes Sunday 1 March a workday instead.
    override = HolidayOverride(holidays=frozenset({date(2026, 2, 24)}), makeup_workdays=frozenset({date(2026, 3, 1)}))
    start = datetime(2026, 2, 14, 2, tzinfo=timezone.utc)
    assert _local(add_workdays(start, 1, override)) == "2026-02-25 23:59:59"
    # 15 working days: 25–28 Feb (4), 1–6 March (10), 9–13 March (15): the same end, by another path.
    assert _local(add_workdays(start, 15, override)) == "2026-03-13 23:59:59"
    assert _local(add_workdays(start, 5, override)) == "2026-03-01 23:59:59"


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_TZ)


def test_working_days_left_skip_weekends_and_holidays():
    friday, tuesday = date(2026, 11, 27), date(2026, 12, 1)
    deadline = add_workdays(_at(friday), 2, NO_OVERRIDE)  # end of Tuesday
    assert workdays_left(deadline, _at(friday), NO_OVERRIDE) == 2
    assert workdays_left(deadline, _at(date(2026, 11, 28)), NO_OVERRIDE) == 2  # Saturday counts nothing
    assert workdays_left(deadline, _at(tuesday, 23), NO_OVERRIDE) == 0  # due today
    assert workdays_left(deadline, _at(date(2026, 12, 3)), NO_OVERRIDE) == -2  # Wednesday and Thursday
    # The National Day week: due on the last workday before it, overdue by one day on 1 October
    before = datetime(2026, 9, 30, 23, 59, 59, tzinfo=LOCAL_TZ)
    assert workdays_left(before, _at(date(2026, 10, 1)), NO_OVERRIDE) == -1
    assert workdays_left(before, _at(date(2026, 10, 8)), NO_OVERRIDE) == -1
