import asyncio
from datetime import datetime, timezone

from ticketing.tickets.numbering import NUMBER_RE, format_number, local_day, mint_number


def test_number_format_uses_the_local_day():
    # 23:30 UTC is already the next day in Pingdingshan.
    at = datetime(2026, 11, 27, 23, 30, tzinfo=timezone.utc)
    assert local_day(at).isoformat() == "2026-11-28"
    assert format_number(local_day(at), 42) == "PDS2026112800042"
    assert NUMBER_RE.fullmatch("PDS2026112800042")


async def test_concurrent_minting_never_repeats_a_number(sessions):
    at = datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)

    async def mint_one() -> str:
        async with sessions() as session, session.begin():
            return await mint_number(session, at)

    numbers = await asyncio.gather(*(mint_one() for _ in range(40)))
    assert len(set(numbers)) == 40
    assert sorted(numbers) == [f"PDS20261127{i:05d}" for i in range(1, 41)]


async def test_a_rolled_back_ticket_gives_its_number_back(sessions):
    at = datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)
    async with sessions() as session:
        async with session.begin():
            first = await mint_number(session, at)
        await session.begin()
        await mint_number(session, at)
        await session.rollback()
        async with session.begin():
            second = await mint_number(session, at)
    assert (first, second) == ("PDS2026112700001", "PDS2026112700002")
