"""Load and validate ``config/directory.yaml``: the stable codes of the 12345 platform."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config.gathering import Gathering

DEFAULT_PATH = Path(__file__).with_name("directory.yaml")


class DirectoryError(ValueError):
    """The directory file is invalid; the message names the offending entry."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    name: str = Field(min_length=1)
    hotline: str | None = None
    integration: Literal["merged", "parallel", "dispatch"]
    seats: int | None = None
    # Statutory duties (三定 functions), one clause each: the NLU trains on them as examples of the
    # department (nlu/letters/compose.py) so that a letter about a duty finds its department.
    duties: tuple[str, ...] = ()


class Hotline(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    name: str = Field(min_length=1)
    hotline: str = Field(pattern=r"^\d{5}$")


class EmergencyNumber(_Entry):
    number: str = Field(pattern=r"^\d{3}$")
    kind: Literal["police", "fire", "medical", "traffic"]
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    # The city department the ticket of such a call belongs to once the citizen has been sent to the number
    # (a fight is the police's matter, not the department the classifier's words leaned to).
    department: str | None = Field(default=None, pattern=r"^[a-z][a-z_]*$")


class Region(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    name: str = Field(min_length=1)
    role: Literal["district", "zone", "remote_seat"]
    former_hotline: str | None = None
    aliases: tuple[str, ...] = ()


class Coded(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")  # open311: a standard's name keeps its digits
    name: str = Field(min_length=1)


class TimeLimits(_Entry):
    consult: int
    help: int
    suggestion: int
    complaint: int
    report: int
    praise: int
    urgent_same_day: bool = True


class NetworkHotline(_Entry):
    seats: int
    shift_start: str = Field(pattern=r"^\d\d:\d\d$")
    shift_end: str = Field(pattern=r"^\d\d:\d\d$")
    timezone: str


class UnitContact(_Entry):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    leader_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ReturnReason(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    name: str = Field(min_length=1)


class Handling(_Entry):
    sign_within_workdays: int = Field(default=1, ge=0, le=10)
    warn_at_fraction: float = Field(default=0.8, gt=0, lt=1)
    escalate_after_supervisions: int = Field(default=2, ge=1, le=10)
    survey_valid_days: int = Field(default=15, ge=1, le=90)
    callback_after_days: int = Field(default=3, ge=0, le=60)
    return_reasons: tuple[ReturnReason, ...] = (ReturnReason(code="not_our_duty", name="非本单位职责"),
                                                ReturnReason(code="other", name="其他原因"))


class Analytics(_Entry):
    """Hot spots (issue #17): when a region's similar tickets are a burst, when a topic is rising,
    and who hears about it by mail (besides the supervisors' live console)."""

    burst_threshold: int = Field(default=5, ge=2, le=10000)  # ≥ this many similar tickets in one region …
    burst_hours: int = Field(default=48, ge=1, le=720)  # … within this many hours
    rising_min_count: int = Field(default=5, ge=1, le=10000)  # a rising topic has at least this many tickets …
    rising_ratio: float = Field(default=2.0, gt=1, le=100)  # … and this many times the previous period's
    supervisor_emails: tuple[str, ...] = ()
    leader_emails: tuple[str, ...] = ()  # the monthly report's list
    rising_alerts: int = Field(default=3, ge=0, le=10)  # the top rising topics of each window that raise an alert
    alert_leaders: bool = True  # hot-spot alerts are mailed to the leaders' list too, not only the supervisors

    @model_validator(mode="after")
    def _addresses(self) -> Analytics:
        for address in (*self.supervisor_emails, *self.leader_emails):
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", address):
                raise ValueError(f"analytics: not a mail address: {address!r}")
        return self


EVALUATION_RATES = ("signed_on_time", "answered_on_time", "not_returned", "not_extended", "solved", "satisfied")


class Evaluation(_Entry):
    weights: dict[str, float]

    @model_validator(mode="after")
    def _weights(self) -> Evaluation:
        unknown = set(self.weights) - set(EVALUATION_RATES)
        if unknown:
            raise ValueError(f"evaluation.weights: unknown rate(s) {sorted(unknown)}; known: {list(EVALUATION_RATES)}")
        if any(w < 0 for w in self.weights.values()) or abs(sum(self.weights.values()) - 1) > 1e-6:
            raise ValueError("evaluation.weights: must be non-negative and sum to 1")
        return self


@dataclass(frozen=True)
class Unit:
    """A unit that handles dispatched tickets: a department, or a county with a remote seat."""

    code: str
    name: str
    kind: Literal["department", "region"]
    email: str | None
    leader_email: str | None


class Directory(_Entry):
    departments: tuple[Department, ...]
    non_integrated_hotlines: tuple[Hotline, ...]
    emergency_numbers: tuple[EmergencyNumber, ...]
    regions: tuple[Region, ...]
    request_types: tuple[Coded, ...]
    channels: tuple[Coded, ...]
    time_limits: TimeLimits
    network_hotline: NetworkHotline
    unit_contacts: dict[str, UnitContact] = {}
    handling: Handling = Handling()
    analytics: Analytics = Analytics()
    evaluation: Evaluation = Evaluation(weights={rate: 1 / len(EVALUATION_RATES) for rate in EVALUATION_RATES})
    gathering: Gathering = Gathering()

    @model_validator(mode="after")
    def _unique_codes(self) -> Directory:
        for section in ("departments", "non_integrated_hotlines", "regions", "request_types", "channels"):
            seen: set[str] = set()
            for entry in getattr(self, section):
                if entry.code in seen:
                    raise ValueError(f"{section}: duplicate code {entry.code!r}")
                seen.add(entry.code)
        numbers = [e.number for e in self.emergency_numbers]
        if len(numbers) != len(set(numbers)):
            raise ValueError("emergency_numbers: duplicate number")
        codes = {d.code for d in self.departments}
        for number in self.emergency_numbers:
            if number.department and number.department not in codes:
                raise ValueError(f"emergency_numbers: {number.number}: unknown department {number.department!r}")
        alias_owner: dict[str, str] = {}
        for region in self.regions:
            for alias in (region.name, *region.aliases):
                owner = alias_owner.setdefault(alias, region.code)
                if owner != region.code:
                    raise ValueError(f"regions: alias {alias!r} used by {owner!r} and {region.code!r}")
        handlers = {d.code for d in self.departments} | {r.code for r in self.regions if r.role == "remote_seat"}
        for code in self.unit_contacts:
            if code not in handlers:
                raise ValueError(f"unit_contacts: {code!r} is neither a department nor a remote-seat region")
        reasons = [r.code for r in self.handling.return_reasons]
        if len(reasons) != len(set(reasons)):
            raise ValueError("handling.return_reasons: duplicate code")
        self.gathering.check_codes(frozenset(d.code for d in self.departments),
                                   frozenset(r.code for r in self.request_types),
                                   frozenset(c.code for c in self.channels))
        return self

    # Convenience look-ups; cached because the directory is immutable.
    @cached_property
    def department_codes(self) -> frozenset[str]:
        return frozenset(d.code for d in self.departments)

    @cached_property
    def region_codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.regions)

    @cached_property
    def request_type_codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.request_types)

    @cached_property
    def channel_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.channels)

    @cached_property
    def units(self) -> tuple[Unit, ...]:
        """Who may be dispatched to: every department, then every county with a remote seat."""
        def contact(code: str) -> UnitContact | None:
            return self.unit_contacts.get(code)

        out = [Unit(d.code, d.name, "department", getattr(contact(d.code), "email", None),
                    getattr(contact(d.code), "leader_email", None)) for d in self.departments]
        out += [Unit(r.code, f"{r.name}12345远端坐席", "region", getattr(contact(r.code), "email", None),
                     getattr(contact(r.code), "leader_email", None))
                for r in self.regions if r.role == "remote_seat"]
        return tuple(out)

    @cached_property
    def unit_codes(self) -> frozenset[str]:
        return frozenset(u.code for u in self.units)

    def unit(self, code: str) -> Unit | None:
        return next((u for u in self.units if u.code == code), None)

    def return_reason(self, code: str) -> ReturnReason | None:
        return next((r for r in self.handling.return_reasons if r.code == code), None)

    def department(self, code: str) -> Department:
        return next(d for d in self.departments if d.code == code)

    def region(self, code: str) -> Region:
        return next(r for r in self.regions if r.code == code)


def _describe(error: ValidationError, data: dict) -> str:
    parts = []
    for err in error.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        # Name the entry by its code when the error sits inside a list item.
        if len(loc) >= 2 and isinstance(loc[1], int):
            try:
                item = data[loc[0]][loc[1]]
                ident = item.get("code") or item.get("number")
                if ident:
                    where = f"{loc[0]}[{ident}]" + "".join(f".{p}" for p in loc[2:])
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def load_directory(path: str | Path | None = None) -> Directory:
    path = Path(path) if path else DEFAULT_PATH
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DirectoryError(f"{path}: cannot read directory: {exc}") from exc
    if not isinstance(data, dict):
        raise DirectoryError(f"{path}: expected a mapping at the top level")
    try:
        return Directory.model_validate(data)
    except ValidationError as exc:
        raise DirectoryError(f"{path}: {_describe(exc, data)}") from exc
