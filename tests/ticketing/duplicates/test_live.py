"""The live index: tickets added, changed and removed one by one leave the same graph and clusters as
a fresh build of the tickets that remain (on the labelled set, below the posting cap)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from tests.ticketing.duplicates.test_index import labelled
from ticketing.duplicates.index import DuplicateIndex, TicketText
from ticketing.duplicates.live import LiveIndex, Row

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _row(ticket_id: int, text: str, *, status: str = "pending_review", region: str | None = None,
         age: timedelta = timedelta(hours=1)) -> Row:
    return Row(ticket_id, None, text, status, region, None, NOW - age, NOW)


def _fresh_clusters(items: dict[int, TicketText]) -> list[list[int]]:
    return DuplicateIndex.build(items.values()).clusters()


def test_changes_one_by_one_give_what_a_fresh_build_gives():
    texts = [text for _, _, text in labelled()]
    rng = random.Random(17)
    live = LiveIndex(days=30)
    present: dict[int, TicketText] = {}
    order = list(range(len(texts)))
    rng.shuffle(order)
    for step, ticket_id in enumerate(order):
        live.apply([_row(ticket_id, texts[ticket_id])], now=NOW)
        present[ticket_id] = TicketText(ticket_id, texts[ticket_id])
        if step % 4 == 3:  # now and then one closes
            gone = rng.choice(sorted(present))
            live.apply([_row(gone, texts[gone], status="closed")], now=NOW)
            del present[gone]
    expected = _fresh_clusters(present)
    assert {frozenset(group) for group in expected} == {
        frozenset((c.main, *(t for t, _ in c.others))) for c in live.clusters()}
    fresh = DuplicateIndex.build(present.values())
    for ticket_id in present:
        assert live.graph[ticket_id] == {n.ticket_id: n.score
                                         for n in fresh.neighbours(TicketText(ticket_id, ""), limit=1000)}


def test_a_status_change_keeps_the_neighbours_and_an_old_ticket_ages_out():
    live = LiveIndex(days=30)
    live.apply([_row(1, "湛河区锦绣花园小区停水三天了"), _row(2, "锦绣花园小区一直没有自来水，请恢复供水")], now=NOW)
    assert 2 in live.graph[1] and 1 in live.graph[2]
    linked = dict(live.graph[1])
    assert live.apply([_row(1, "湛河区锦绣花园小区停水三天了", status="handling")], now=NOW) == 1
    assert live.graph[1] == linked and live.state[1][0] == "handling"
    assert live.apply([_row(1, "湛河区锦绣花园小区停水三天了", status="handling")], now=NOW) == 0  # seen: nothing to do
    live.apply([_row(3, "锦绣花园停水", age=timedelta(days=31))], now=NOW)
    assert 3 not in live.state
    assert live.apply([], now=NOW + timedelta(days=30)) == 2 and len(live) == 0 and live.graph == live.into == {}


def test_the_first_catch_up_builds_what_a_fresh_build_gives():
    texts = [text for _, _, text in labelled()]
    live = LiveIndex(days=30)
    assert live.apply([_row(i, text) for i, text in enumerate(texts)], now=NOW) == len(texts)
    fresh = DuplicateIndex.build(TicketText(i, text) for i, text in enumerate(texts))
    assert {frozenset(g) for g in fresh.clusters()} == {
        frozenset((c.main, *(t for t, _ in c.others))) for c in live.clusters()}
    for ticket_id in range(len(texts)):
        assert set(live.graph[ticket_id]) == {n.ticket_id for n in fresh.neighbours(TicketText(ticket_id, ""),
                                                                                     limit=1000)}
