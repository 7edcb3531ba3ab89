"""An in-memory index of open tickets' signatures: who is near whom, without comparing all pairs.

Each ticket is the set of its site features (:mod:`ticketing.duplicates.signatures`) as an
L2-normalised vector, plus its problem kinds, region and department.  An inverted index maps each
feature to the tickets holding it, so a query touches only the tickets sharing a feature with it
(the postings of features held by more than ``max_posting_share`` of the tickets, and by more than
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
from collections.abc import Iterable, Sequence
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
    vector: dict[str, float]
    problems: frozenset[str]
    region: str | None
    department: str | None


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
    _postings: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def build(cls, tickets: Iterable[TicketText], **options: float) -> DuplicateIndex:
        index = cls(**options)
        for item in tickets:
            signature = index.signature_of(item)
            index._signatures[item.ticket_id] = signature
            for feature in signature.vector:
                index._postings[feature].add(item.ticket_id)
        return index

    def __len__(self) -> int:
        return len(self._signatures)

    def __contains__(self, ticket_id: int) -> bool:
        return ticket_id in self._signatures

    @staticmethod
    def _vector(counts: Counter[str]) -> dict[str, float]:
        # Set cosine (Ochiai): every feature weighs the same.  No IDF on purpose — weights learnt
        # from the open tickets themselves would make the site of a mass complaint, shared by
        # most of them, count least exactly when it matters most.
        weight = 1.0 / math.sqrt(len(counts)) if counts else 0.0
        return {feature: weight for feature in counts}

    def signature_of(self, item: TicketText) -> _Signature:
        known = self._signatures.get(item.ticket_id)
        if known is not None:
            return known
        return _Signature(self._vector(site_features(item.text)), problems(item.text), item.region, item.department)

    def score(self, left: _Signature, right: _Signature) -> float:
        if _known_apart(left.region, right.region) or _known_apart(left.department, right.department):
            return 0.0
        factor = problem_factor(left.problems, right.problems)
        if factor == 0.0:
            return 0.0
        small, large = sorted((left.vector, right.vector), key=len)
        return factor * sum(weight * large.get(feature, 0.0) for feature, weight in small.items())

    def neighbours(self, item: TicketText, *, limit: int = 20) -> list[Neighbour]:
        """The indexed tickets that are the same matter as ``item`` (itself excluded), best first.

        ``item`` need not be indexed: a ticket newer than the index is compared on the fly."""
        signature = self.signature_of(item)
        cap = max(self.min_posting_cap, int(self.max_posting_share * len(self._signatures)))
        candidates: set[int] = set()
        for feature in signature.vector:
            posting = self._postings.get(feature)
            if posting and len(posting) <= cap:
                candidates |= posting
        candidates.discard(item.ticket_id)
        found = []
        for other in candidates:
            value = self.score(signature, self._signatures[other])
            if value >= self.threshold:
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
        grouped: set[int] = set()
        found = []
        for leader in sorted(near, key=lambda ticket_id: (-len(near[ticket_id]), ticket_id)):
            if leader in grouped:
                continue
            members = sorted(near[leader] - grouped)
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
