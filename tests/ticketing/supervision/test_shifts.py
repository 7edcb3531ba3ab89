from datetime import datetime, timedelta, timezone

from tests.ticketing.factories import DIRECTORY
from ticketing.supervision import shifts


def test_shift_hours_of_the_network_hotline():
    tz = timezone(timedelta(hours=8))
    assert shifts.shift_status(DIRECTORY, datetime(2026, 3, 2, 9, 0, tzinfo=tz)).on_duty
    night = shifts.shift_status(DIRECTORY, datetime(2026, 3, 2, 22, 30, tzinfo=tz))
    assert not night.on_duty and night.next_start == datetime(2026, 3, 3, 8, 0, tzinfo=tz)
    early = shifts.shift_status(DIRECTORY, datetime(2026, 3, 2, 6, 0, tzinfo=tz))
    assert early.next_start == datetime(2026, 3, 2, 8, 0, tzinfo=tz)
