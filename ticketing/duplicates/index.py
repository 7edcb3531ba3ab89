"""An in-memory index of open tickets' signatures: who is near whom, without comparing all pairs.

Each ticket is the set of its site features (:mod:`ticketing.duplicates.signatures`) as an
L2-normalised vector, plus its problem kinds, region and department.  An inverted index maps each
feature to the tickets holding it, so a query touches only the tickets sharing a feature with it
(postings are kept per problem kind, so only tickets that may agree on the problem meet; the
postings of features held by more than ``max_posting_share`` of the tickets, and by more than
``min_posting_cap``, are skipped:
"小区" or "路口" alone never makes two tickets the same matter, and skipping them keeps a query
far below the size of the index).  Two tickets are the same matter when

* they are not known to be in different regions, nor known to be for different departments;
* their problem kinds do not disagree (both known and disjoint → different matters); one
  unknown kind halves the score, since only the site then speaks for the match;
* the cosine of their site vectors (times that factor) reaches ``threshold``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ticketing.duplicates.signatures import problems, site_features

# Chosen on the labelled set (tests/ticketing/duplicates/data/duplicates.yaml): see the package docstring.
DEFAULT_THRESHOLD = 0.15


@dataclass(frozen=True)
class TicketText:
    """What the index needs of a ticket."""

    ticket_id: int
    text: str
    region: str | None = None
    department: str | None = None


@dataclass(frozen=True)
class Neighbour:
    ticket_id: int
    score: float


@dataclass
class _Signature:
    features: frozenset[str]
    problems: frozenset[str]
    region: str | None
    department: str | None
    # Each feature's weight in the L2-normalised set vector; computed once, since a query reads it
    # for every candidate (a mass complaint: thousands per new ticket, a tenth of the worker's CPU).
    weight: float = field(init=False)

    def __post_init__(self) -> None:
        self.weight = 1.0 / math.sqrt(len(self.features)) if self.features else 0.0


def _known_apart(left: str | None, right: str | None) -> bool:
    return left is not None and right is not None and left != right


def problem_factor(left: frozenset[str], right: frozenset[str]) -> float:
    if not left or not right:
        return 0.5
    return 1.0 if left & right else 0.0


@dataclass
class DuplicateIndex:
    threshold: float = DEFAULT_THRESHOLD
    max_posting_share: float = 0.2
    min_posting_cap: int = 200  # a small index compares on every feature
    _signatures: dict[int, _Signature] = field(default_factory=dict)
    # feature -> (problem kind, region) -> tickets; "" for a kind or region not known.  Only tickets
    # that may agree on the problem and the region are ever candidates of each other.  Keyed by the
    # feature first: a query reads the few buckets a feature occurs in instead of probing every
    # (kind, region) pair it may match (a ticket of unknown kind and region: all of them).
    _postings: dict[str, dict[tuple[str, str], set[int]]] = field(default_factory=lambda: defaultdict(dict))
    _weights: dict[int, float] = field(default_factory=dict)  # each indexed ticket's signature weight

    @classmethod
    def build(cls, tickets: Iterable[TicketText], **options: float) -> DuplicateIndex:
        index = cls(**options)
        for item in tickets:
            index.add(item)
        return index

    def add(self, item: TicketText) -> None:
        """Index ``item`` (replacing what was indexed under its id)."""
        self.remove(item.ticket_id)
        signature = self.signature_of(item)
        self._signatures[item.ticket_id] = signature
        self._weights[item.ticket_id] = signature.weight
        kinds = signature.problems or {""}
        region = signature.region or ""
        for feature in signature.features:
            buckets = self._postings[feature]
            for kind in kinds:
                buckets.setdefault((kind, region), set()).add(item.ticket_id)

    def remove(self, ticket_id: int) -> None:
        signature = self._signatures.pop(ticket_id, None)
        if signature is None:
            return
        del self._weights[ticket_id]
        region = signature.region or ""
        for feature in signature.features:
            buckets = self._postings.get(feature)
            if buckets is None:
                continue
            for kind in signature.problems or {""}:
                posting = buckets.get((kind, region))
                if posting is not None:
                    posting.discard(ticket_id)
                    if not posting:
                        del buckets[kind, region]
            if not buckets:
                del self._postings[feature]

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, ticket_id: int) -> bool:
        return ticket_id in self._signatures

    def signature_of(self, item: TicketText) -> _Signature:
        known = self._signatures.get(item.ticket_id)
        if known is not None:
            return known
        # Set cosine (Ochiai): every feature weighs the same.  No IDF on purpose — weights learnt
        # from the open tickets themselves would make the site of a mass complaint, shared by
        # most of them, count least exactly when it matters most.
        return _Signature(frozenset(site_features(item.text)), problems(item.text), item.region, item.department)

    @staticmethod
    def _factor(left: _Signature, right: _Signature) -> float:
        if _known_apart(left.region, right.region) or _known_apart(left.department, right.department):
            return 0.0
        return problem_factor(left.problems, right.problems)

    def score(self, left: _Signature, right: _Signature) -> float:
        """The pair's score over all their features (what a query computes through the postings)."""
        return self._factor(left, right) * len(left.features & right.features) * left.weight * right.weight

    def neighbours(self, item: TicketText, *, limit: int = 20) -> list[Neighbour]:
        """The indexed tickets that are the same matter as ``item`` (itself excluded), best first.

        ``item`` need not be indexed: a ticket newer than the index is compared on the fly."""
        signature = self.signature_of(item)
        cap = max(self.min_posting_cap, int(self.max_posting_share * len(self._signatures)))
        # A ticket without a known kind (region) may match any; one with kinds (a region) only those
        # or the unknown.
        kinds = (signature.problems | {""}) if signature.problems else None
        regions = {signature.region, ""} if signature.region else None
        # The shared features of every candidate, counted through the postings: the dot products of
        # the set vectors without touching a ticket that shares nothing.
        shared: Counter[int] = Counter()
        postings = self._postings
        for feature in signature.features:
            chosen = [posting for (kind, region), posting in postings.get(feature, {}).items()
                      if (kinds is None or kind in kinds) and (regions is None or region in regions)
                      and len(posting) <= cap]
            if len(chosen) == 1:
                shared.update(chosen[0])  # most features: one bucket, counted without a copy
            elif chosen:
                shared.update(set().union(*chosen))  # a ticket of two kinds is in two buckets: once
        shared.pop(item.ticket_id, None)
        found: list[Neighbour] = []
        if not signature.weight:
            return found
        signatures, factor, threshold = self._signatures, self._factor, self.threshold
        # The score is at most count x both weights (the factor is at most 1): most candidates of a
        # mass complaint are dropped on that bound, read from a plain dict, before anything else.
        weights, floor = self._weights, threshold / signature.weight
        for other, count in shared.items():
            if count * weights[other] >= floor:
                candidate = signatures[other]
                value = factor(signature, candidate) * count * signature.weight * candidate.weight
                if value >= threshold:
                    found.append(Neighbour(other, round(value, 4)))
        found.sort(key=lambda n: (-n.score, n.ticket_id))
        return found[:limit]

    def clusters(self, *, min_size: int = 2) -> list[list[int]]:
        """Groups of indexed tickets around a main one, biggest first, each as [main, *others by id].

        Star clustering, not single linkage: the ticket with most same-matter neighbours leads a
        group of its neighbours not yet grouped, then the next.  Chains (A like B, B like C, C not
        like A — 建设路's lights, 光明路's lights) would otherwise fuse two sites into one group."""
        near = {ticket_id: {n.ticket_id for n in self.neighbours(TicketText(ticket_id, ""), limit=1_000)}
                for ticket_id in self._signatures}
        return star_clusters(near, min_size=min_size)


def star_clusters(near: Mapping[int, Collection[int]], *, min_size: int = 2) -> list[list[int]]:
    """Star clustering of a same-matter graph (each ticket → its neighbours): the ticket with most
    neighbours leads a group of its neighbours not yet grouped, then the next; biggest group first."""
    grouped: set[int] = set()
    found = []
    for leader in sorted(near, key=lambda ticket_id: (-len(near[ticket_id]), ticket_id)):
        if leader in grouped:
            continue
        members = sorted(set(near[leader]) - grouped)
        if len(members) + 1 < min_size:
            continue
        grouped.add(leader)
        grouped.update(members)
        found.append([leader, *members])
    found.sort(key=lambda group: (-len(group), group[0]))
    return found


def pairs_above(index: DuplicateIndex, ids: Sequence[int]) -> set[tuple[int, int]]:
    """Every same-matter pair among ``ids`` (smaller id first): what the precision test counts."""
    found = set()
    for ticket_id in ids:
        for neighbour in index.neighbours(TicketText(ticket_id, ""), limit=len(ids)):
            found.add((min(ticket_id, neighbour.ticket_id), max(ticket_id, neighbour.ticket_id)))
    return found
