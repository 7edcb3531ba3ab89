from datetime import datetime, timedelta, timezone

from tests.ticketing.factories import DIRECTORY
from ticketing.intake import off_hours


def test_off_hours_note_for_the_bot():
    tz = timezone(timedelta(hours=8))
    assert off_hours.off_hours_note(DIRECTORY, datetime(2026, 3, 2, 10, 0, tzinfo=tz)) is None
    note = off_hours.off_hours_note(DIRECTORY, datetime(2026, 3, 2, 23, 0, tzinfo=tz))
    assert "3月3日 08:00" in note and "08:00—18:00" in note
