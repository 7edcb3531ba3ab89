from datetime import datetime, timezone

from config.directory import load_directory
from ticketing.tickets.deadlines import add_workdays, deadline_for, is_workday


def test_national_holidays_and_makeup_days():
    from datetime import date

    assert not is_workday(date(2026, 10, 1))      # National Day
    assert is_workday(date(2026, 10, 10))         # Saturday make-up workday
    assert not is_workday(date(2026, 11, 28))     # an ordinary Saturday


def test_consult_takes_two_working_days_skipping_the_weekend():
    friday = datetime(2026, 11, 27, 2, tzinfo=timezone.utc)  # Friday 10:00 in Pingdingshan
    end = add_workdays(friday, 2)
    assert end.astimezone().date().isoformat() == "2026-12-01"


def test_deadline_by_request_type_and_urgency():
    d = load_directory()
    start = datetime(2026, 9, 30, 2, tzinfo=timezone.utc)
    # 15 working days across the National Day holiday.
    assert deadline_for(d, "complaint", start).date().isoformat() == "2026-10-27"
    assert deadline_for(d, None, start) is None
    urgent = deadline_for(d, None, start, urgent=True)
    assert urgent.isoformat() == "2026-09-30T15:59:59+00:00"
