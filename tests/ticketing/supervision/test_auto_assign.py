from tests.ticketing.factories import handoff_ticket
from ticketing.accounts.users import create_user
from ticketing.supervision import auto_assign


async def test_auto_assign_round_robin(sessions):
    async with sessions() as session, session.begin():
        for name in ("li", "wang", "zhao"):
            user = await create_user(session, name, role="operator", password="long-enough-1")
            user.on_shift = name != "zhao"
    ids = [await handoff_ticket(sessions) for _ in range(4)]
    got = []
    for ticket_id in ids:
        async with sessions() as session, session.begin():
            got.append(await auto_assign.auto_assign(session, ticket_id))
    assert sorted(got[:2]) == ["li", "wang"] and got[2:] == got[:2]
    async with sessions() as session, session.begin():
        assert await auto_assign.auto_assign(session, ids[0]) is None  # already assigned
