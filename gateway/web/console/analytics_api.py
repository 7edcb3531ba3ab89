"""The analytics dashboard as JSON: ``GET /api/v1/console/analytics`` for supervisors, admins and the
city's leaders: any period of local days (``from``/``to`` or ``month``, default this month) and
filters ``channel``, ``department``, ``region``, ``request_type`` (directory codes).

The figures come from the daily rollups (:mod:`ticketing.analytics.rollup`, refreshed by the
worker); the names are the directory's, in Chinese.  The page
(:mod:`gateway.web.console.analytics_pages`) and its XLSX downloads use :func:`dashboard` too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from config.directory import Directory
from config.local_time import LOCAL_TZ
from gateway.infra.analytics_keys import rising_topics_key
from gateway.infra.resources import DIRECTORY, KEYS, READ_SESSIONS, REDIS
from gateway.web.audiences import Config
from gateway.web.console.analytics_models import AnalyticsHotspotsResponse, AnalyticsResponse
from gateway.web.console.api import P, api
from gateway.web.console.evaluation_api import Period, period_of
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.present import local_day
from ticketing.accounts.roles import ANALYTICS_ROLES
from ticketing.analytics import figures
from ticketing.analytics.figures import Scope
from ticketing.analytics.hotspots import recent_alerts
from ticketing.analytics.rollup import last_refresh
from ticketing.db.models.base import utcnow
from ticketing.workflow.evaluation import unit_figures

routes = web.RouteTableDef()
for_analytics = tagged("坐席台：数据分析")

ANALYSTS = tuple(sorted(ANALYTICS_ROLES))
UNCLASSIFIED = "未分类"
ALERTS_SHOWN_DAYS = 7
FILTERS = {"channel": "渠道", "department": "部门", "region": "区域", "request_type": "诉求类型"}


def names(directory: Directory) -> dict[str, dict[str, str]]:
    """Code → Chinese name for each filterable dimension."""
    return {"channel": {c.code: c.name for c in directory.channels},
            "department": {d.code: d.name for d in directory.departments},
            "region": {r.code: r.name for r in directory.regions},
            "request_type": {t.code: t.name for t in directory.request_types}}


DEFAULT_DAYS = 30


def scope_of(query: Mapping[str, str], directory: Directory, now: datetime) -> tuple[Period, Scope]:
    """The period (``from``/``to`` or ``month``; by default the last 30 days, today included) and
    the filters, checked against the directory."""
    if any((query.get(key) or "").strip() for key in ("from", "to", "month")):
        period = period_of(query, now)
    else:
        today = now.astimezone(LOCAL_TZ).date()
        period = Period(today - timedelta(days=DEFAULT_DAYS - 1), today)
    known = names(directory)
    chosen: dict[str, str] = {}
    for name, label in FILTERS.items():
        value = (query.get(name) or "").strip()
        if not value:
            continue
        if value not in known[name]:
            raise ApiError(400, "invalid_filter", f"未知的{label}代码：{value[:64]}")
        chosen[name] = value
    return period, Scope(period.first, period.last, **chosen)


def _name(table: dict[str, str], code: str) -> str:
    return table.get(code, code) if code else UNCLASSIFIED


def _position(table: dict[str, str], code: str) -> int:
    """The directory's order; unknown codes after it and the unclassified last."""
    order = list(table)
    return order.index(code) if code in table else len(order) + (1 if not code else 0)


def _series(table: dict[str, str], rows: Mapping[str, list[int]]) -> list[dict[str, Any]]:
    return [{"code": code, "name": _name(table, code), "data": data}
            for code, data in sorted(rows.items(), key=lambda item: _position(table, item[0]))]


async def dashboard(config: Config, period: Period, scope: Scope, *, now: datetime | None = None) -> dict[str, Any]:
    """Every chart's data, with Chinese names."""
    directory = config[DIRECTORY]
    now = now or utcnow()
    known = names(directory)
    async with config[READ_SESSIONS]() as session:
        by_day = await figures.volume_by_day(session, scope)
        by_hour = await figures.volume_by_hour(session, scope)
        heat = await figures.heat_map(session, scope)
        types = await figures.request_types(session, scope)
        backlog = await figures.backlog(session, scope, now=now)
        bot = await figures.bot_share(session, scope)
        units = await unit_figures(session, directory, start=period.start, end=period.end, now=now)
        refreshed = await last_refresh(session)
    wanted_units = {scope.department, scope.region} - {None}
    departments = sorted({d for d, _, _ in heat}, key=lambda code: _position(known["department"], code))
    regions = sorted({r for _, r, _ in heat}, key=lambda code: _position(known["region"], code))
    return {
        "from": period.first.isoformat(), "to": period.last.isoformat(), "filters": scope.filters(),
        "total": sum(types.values()),
        "volume_by_day": {"days": by_day["days"], "series": _series(known["channel"], by_day["channels"])},
        "volume_by_hour": {"hours": list(range(24)), "series": _series(known["channel"], by_hour)},
        "heat_map": {"departments": [{"code": d, "name": _name(known["department"], d)} for d in departments],
                     "regions": [{"code": r, "name": _name(known["region"], r)} for r in regions],
                     "cells": [{"department": d, "region": r, "count": n} for d, r, n in heat]},
        "request_types": [{"code": code, "name": _name(known["request_type"], code), "count": count}
                          for code, count in sorted(types.items(), key=lambda item: (
                              -item[1], _position(known["request_type"], item[0])))],
        "backlog": backlog,
        "bot": bot,
        "units": [{"unit": u.code, "name": u.name, "kind": u.kind, "received": u.received,
                   "response_pct": u.to_dict()["signed_on_time_pct"], "solved_pct": u.to_dict()["solved_pct"],
                   "satisfied_pct": u.to_dict()["satisfied_pct"]}
                  for u in units if not wanted_units or u.code in wanted_units],
        "refreshed_at": refreshed.isoformat() if refreshed else None,
    }


@routes.get(f"{P}/analytics")
@for_analytics("数据分析：来件量（按日、按时段、按渠道）、部门×区域热力、诉求类型、积压与账龄、智能客服分流与预分类更正率、"
               "承办单位响应率/解决率/满意率",
               description="周期按本地日期（含首尾两日），默认最近 30 天（含今天），最长 366 天；来件数据来自每日汇总表（工作进程每分钟更新），"
                           "积压为当前状态。筛选值为代码表中的代码。",
               query={"from": "开始日期 YYYY-MM-DD", "to": "结束日期 YYYY-MM-DD（含）", "month": "或按月份 YYYY-MM",
                      "channel": "渠道代码", "department": "部门代码", "region": "区域代码",
                      "request_type": "诉求类型代码"},
               responses={200: ("各图表数据", AnalyticsResponse), 400: "日期或筛选值无效"})
@api(*ANALYSTS)
async def analytics(request: web.Request) -> web.Response:
    now = utcnow()
    period, scope = scope_of(request.query, request.config_dict[DIRECTORY], now)
    return json_response(await dashboard(request.config_dict, period, scope, now=now))


async def hotspots(config: Config, *, now: datetime) -> dict[str, Any]:
    """The last week's alerts, and the topics rising over 24 hours and 7 days as the worker's
    analytics job last computed them."""
    directory = config[DIRECTORY]
    regions = names(directory)["region"]
    async with config[READ_SESSIONS]() as session:
        alerts = await recent_alerts(session, since=now - timedelta(days=ALERTS_SHOWN_DAYS))
    raw = await config[REDIS].get(rising_topics_key(config[KEYS]))
    rising = json.loads(raw) if raw else {}
    return {
        "alerts": [{"id": a.id, "kind": a.kind, "region": a.region, "region_name": regions.get(a.region or "", "全市"),
                    "keyword": a.keyword, "count": a.count, "window_start": a.window_start.isoformat(),
                    "window_end": a.window_end.isoformat(), "created_at": a.created_at.isoformat(),
                    "created_label": local_day(a.created_at), "mailed": a.mailed} for a in alerts],
        "rising_24h": rising.get("rising_24h", []), "rising_7d": rising.get("rising_7d", []),
        "rising_computed_at": rising.get("computed_at"),
    }


@routes.get(f"{P}/analytics/hotspots")
@for_analytics("热点：近 7 天的集中反映预警，近 24 小时与近 7 天上升的话题",
               description="关键词取自工单标题（jieba TF-IDF，去除地名与通用词）；上升话题须达到 analytics.rising_min_count "
                           "件且为上期的 rising_ratio 倍（config/directory.yaml）。",
               responses={200: ("热点", AnalyticsHotspotsResponse)})
@api(*ANALYSTS)
async def hotspots_api(request: web.Request) -> web.Response:
    return json_response(await hotspots(request.config_dict, now=utcnow()))
