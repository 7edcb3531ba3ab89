"""Load and validate ``config/directory.yaml``: the stable codes of the 12345 platform."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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


class Hotline(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    name: str = Field(min_length=1)
    hotline: str = Field(pattern=r"^\d{5}$")


class EmergencyNumber(_Entry):
    number: str = Field(pattern=r"^\d{3}$")
    kind: Literal["police", "fire", "medical", "traffic"]
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)


class Region(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
    name: str = Field(min_length=1)
    role: Literal["district", "zone", "remote_seat"]
    former_hotline: str | None = None
    aliases: tuple[str, ...] = ()


class Coded(_Entry):
    code: str = Field(pattern=r"^[a-z][a-z_]*$")
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


class Directory(_Entry):
    departments: tuple[Department, ...]
    non_integrated_hotlines: tuple[Hotline, ...]
    emergency_numbers: tuple[EmergencyNumber, ...]
    regions: tuple[Region, ...]
    request_types: tuple[Coded, ...]
    channels: tuple[Coded, ...]
    time_limits: TimeLimits
    network_hotline: NetworkHotline

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
        alias_owner: dict[str, str] = {}
        for region in self.regions:
            for alias in (region.name, *region.aliases):
                owner = alias_owner.setdefault(alias, region.code)
                if owner != region.code:
                    raise ValueError(f"regions: alias {alias!r} used by {owner!r} and {region.code!r}")
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
