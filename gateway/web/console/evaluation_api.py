"""考评 as JSON: ``GET /api/v1/console/evaluation?from=YYYY-MM-DD&to=YYYY-MM-DD`` (or ``month=YYYY-MM``),
for the dispatch-and-supervision seats and the supervisors; and what the evaluation page and its
exports (:mod:`gateway.web.console.evaluation_pages`) share with it: the period and the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from config.local_time import LOCAL_TZ
from gateway.infra.resources import DIRECTORY, SESSIONS
from gateway.web.audiences import Config
from gateway.web.console import models
from gateway.web.console.api import P, api
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from ticketing.db.models.base import utcnow
from ticketing.supervision.stats import operator_stats
from ticketing.workflow.evaluation import UnitFigures, unit_figures
from ticketing.workflow.operator_errors import OperatorErrors, operator_errors, with_corrections

routes = web.RouteTableDef()
for_evaluation = tagged("坐席台：考评")

# Who reads the evaluation: the 交办督办坐席 and the supervisors.
EVALUATORS = ("dispatcher", "supervisor")
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    """Local calendar days ``first``…``last`` (both included), as the UTC instants [start, end)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), LOCAL_TZ)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), LOCAL_TZ)

    @property
    def month(self) -> str | None:
        """``YYYY-MM`` when the period is exactly one calendar month."""
        whole = self.first.day == 1 and (self.last + timedelta(days=1)).day == 1
        return self.first.strftime("%Y-%m") if whole and self.last - self.first < timedelta(days=31) else None

    @property
    def label(self) -> str:
        if self.month:
            return f"{self.first.year}年{self.first.month}月"
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"

    @property
    def query(self) -> str:
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}"


def month_period(year: int, month: int) -> Period:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(first, following - timedelta(days=1))


def _date(query: Mapping[str, str], key: str) -> date | None:
    raw = (query.get(key) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return None


def period_of(query: Mapping[str, str], now: datetime) -> Period:
    """``from``/``to`` (local dates, both included), or ``month``; by default the current local month."""
    raw_from, raw_to, raw_month = (query.get(k, "").strip() for k in ("from", "to", "month"))
    if raw_from or raw_to:
        first, last = _date(query, "from"), _date(query, "to")
        if first is None or last is None:
            raise ApiError(400, "invalid_date", "from 和 to 须为 YYYY-MM-DD 格式的日期，且须同时填写")
        if first > last:
            raise ApiError(400, "invalid_period", "开始日期不能晚于结束日期")
        if (last - first).days + 1 > MAX_DAYS:
            raise ApiError(400, "period_too_long", f"统计周期最长 {MAX_DAYS} 天")
        return Period(first, last)
    if raw_month:
        try:
            year, month = (int(part) for part in raw_month.split("-"))
            if len(raw_month) != 7 or not 1 <= year <= 9998:
                raise ValueError
            return month_period(year, month)
        except ValueError:
            raise ApiError(400, "invalid_date", "month 须为 YYYY-MM 格式的月份") from None
    today = now.astimezone(LOCAL_TZ).date()
    return month_period(today.year, today.month)


@dataclass(frozen=True)
class Report:
    period: Period
    units: list[UnitFigures]
    operators: list[OperatorErrors]
    weights: dict[str, float]


async def evaluation_report(config: Config, period: Period, *, now: datetime | None = None) -> Report:
    directory = config[DIRECTORY]
    async with config[SESSIONS]() as session:
        units = await unit_figures(session, directory, start=period.start, end=period.end, now=now or utcnow())
        errors = await operator_errors(session, start=period.start, end=period.end)
        # The supervisors' own figure of classifications corrected by others, reused as it is.
        corrected = {s.username: s.corrected_by_others
                     for s in await operator_stats(session, since=period.start, until=period.end)}
    return Report(period, units, with_corrections(errors, corrected), dict(directory.evaluation.weights))


def report_dict(report: Report) -> dict[str, Any]:
    return {"from": report.period.first.isoformat(), "to": report.period.last.isoformat(),
            "start": report.period.start.isoformat(), "end": report.period.end.isoformat(),
            "weights": report.weights, "units": [u.to_dict() for u in report.units],
            "operators": [o.to_dict() for o in report.operators]}


@routes.get(f"{P}/evaluation")
@for_evaluation("考评：各承办单位的签收、答复、退回、延期、解决、满意率与加权得分排名，及坐席差错",
                description="周期按本地日期（含首尾两日），默认本月；最长 366 天。比率无数据时为 null，"
                            "计分时按 100% 计。",
                query={"from": "开始日期 YYYY-MM-DD", "to": "结束日期 YYYY-MM-DD（含）",
                       "month": "或按月份 YYYY-MM（未给 from/to 时）"},
                responses={200: ("考评结果", models.EvaluationResponse), 400: "日期无效、开始晚于结束或超过 366 天"})
@api(*EVALUATORS)
async def evaluation(request: web.Request) -> web.Response:
    period = period_of(request.query, utcnow())
    return json_response(report_dict(await evaluation_report(request.config_dict, period)))
