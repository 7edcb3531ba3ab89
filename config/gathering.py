"""The ``gathering`` section of ``config/directory.yaml``: what the bot asks before a ticket goes to the
operators (issue #19).

Which details a request needs is the city's rule, not code: the first rule whose request types and
departments both match the ticket decides (an empty list matches anything), so put the narrow rules
first.  The codes are checked against the directory in :meth:`Gathering.check_codes`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Slot = Literal["location", "time", "contact_phone"]
SLOTS: tuple[Slot, ...] = ("location", "time", "contact_phone")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlotRule(_Entry):
    request_types: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    slots: tuple[Slot, ...] = ()

    def matches(self, request_type: str | None, department: str | None) -> bool:
        return ((not self.request_types or request_type in self.request_types)
                and (not self.departments or department in self.departments))


class Gathering(_Entry):
    enabled: bool = True
    # A question left unanswered this long no longer holds the ticket back: it goes to the queue
    # with the gap flagged (the worker's release job).
    answer_within_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # Questions per matter, the clarifying question included; what is still missing then is flagged.
    max_questions: int = Field(default=2, ge=0, le=4)
    # The chat channels where the citizen can answer at once; elsewhere (mail, the national feed)
    # the missing details are only flagged for the operator.
    asking_channels: tuple[str, ...] = ("web", "wechat")
    # Channels that already know how to reach the citizen (WeChat: the openid) need no phone.
    contact_known_channels: tuple[str, ...] = ("wechat",)
    # Ask which of the two closest departments is meant (margin: nlu/thresholds.py).
    clarify_departments: bool = True
    rules: tuple[SlotRule, ...] = ()

    @model_validator(mode="after")
    def _channels(self) -> Gathering:
        overlap = set(self.contact_known_channels) - set(self.asking_channels)
        if overlap:
            raise ValueError(f"gathering.contact_known_channels: {sorted(overlap)} are not asking channels")
        return self

    def slots_for(self, request_type: str | None, department: str | None) -> tuple[Slot, ...]:
        for rule in self.rules:
            if rule.matches(request_type, department):
                return rule.slots
        return ()

    def check_codes(self, departments: frozenset[str], request_types: frozenset[str],
                    channels: frozenset[str]) -> None:
        for i, rule in enumerate(self.rules):
            for code in rule.departments:
                if code not in departments:
                    raise ValueError(f"gathering.rules[{i}]: unknown department {code!r}")
            for code in rule.request_types:
                if code not in request_types:
                    raise ValueError(f"gathering.rules[{i}]: unknown request type {code!r}")
        for code in self.asking_channels:
            if code not in channels:
                raise ValueError(f"gathering.asking_channels: unknown channel {code!r}")
