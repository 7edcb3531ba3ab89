"""The city's override of the State Council's holiday calendar: ``config/holidays.yaml``.

The national calendar (public holidays, and the weekend days that become workdays, 调休) comes
from the ``chinesecalendar`` package.  This file lists only what differs locally: a day off the
city adds, an extra make-up workday, and the days of a year the package does not know yet (the
State Council publishes the next year's calendar each autumn; upgrade the package then).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

DEFAULT_PATH = Path(__file__).with_name("holidays.yaml")


class HolidayError(ValueError):
    """The override file is invalid; the message names the offending entry."""


class HolidayOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    holidays: frozenset[date] = frozenset()  # days off, even if the national calendar says work
    makeup_workdays: frozenset[date] = frozenset()  # workdays, even on a weekend or a holiday

    @model_validator(mode="after")
    def _disjoint(self) -> HolidayOverride:
        both = sorted(self.holidays & self.makeup_workdays)
        if both:
            raise ValueError(f"{', '.join(map(str, both))} listed both as a holiday and as a make-up workday")
        return self


@lru_cache(maxsize=4)
def load_holiday_override(path: Path = DEFAULT_PATH) -> HolidayOverride:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return HolidayOverride(**{key: value or () for key, value in data.items()})
    except (OSError, yaml.YAMLError, TypeError) as exc:
        raise HolidayError(f"{path}: {exc}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"])
        raise HolidayError(f"{path}: {where}: {err['msg']}") from exc
