"""并单 in one action: fold the chosen duplicates of a cluster into its main ticket.

Each fold is the console's merge (:func:`ticketing.tickets.handling.merge`): the duplicate becomes
``merged`` and points to the main ticket, the main ticket keeps a note and takes over a contact it
lacks, and the answer given on the main ticket later reaches every merged citizen.  All folds
happen in the caller's one transaction, with every row locked in id order first (two operators
merging overlapping clusters wait for each other instead of deadlocking); one refused fold
(a ticket another operator holds, one already merged) refuses the whole action.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Ticket
from ticketing.errors import ConsoleError
from ticketing.tickets import claims, handling

MAX_MERGE = 200  # one mass complaint: a city's worst days bring a few hundred


async def merge_into_main(session: AsyncSession, main_number: str, numbers: Sequence[str], actor: Actor
                          ) -> tuple[Ticket, list[Ticket]]:
    """Merge the tickets ``numbers`` into ``main_number``; the main ticket and the merged ones."""
    wanted = list(dict.fromkeys(n.strip().upper() for n in numbers if n and n.strip()))
    main_number = main_number.strip().upper()
    wanted = [n for n in wanted if n != main_number]
    if not wanted:
        raise ConsoleError(400, "nothing_to_merge", "请选择要合并到主工单的重复工单")
    if len(wanted) > MAX_MERGE:
        raise ConsoleError(400, "too_many", f"一次最多合并 {MAX_MERGE} 件工单")
    tickets = [await claims.get_ticket(session, number) for number in [main_number, *wanted]]
    locked = {t.id: await claims.lock_ticket(session, t) for t in sorted(tickets, key=lambda t: t.id)}
    main = locked[tickets[0].id]
    merged = []
    for ticket in tickets[1:]:
        source = locked[ticket.id]
        await handling.merge(session, source, main, actor)
        merged.append(source)
    return main, merged
