"""The monthly report: the dashboard's figures for one month plus the top issues of each region
(its leading departments and the keywords its tickets share most), as the page, the workbook's
sheets and the mail to the leaders' list."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.infra.resources import DIRECTORY, READ_SESSIONS
from gateway.web.audiences import Config
from gateway.web.console.analytics_api import dashboard, names
from gateway.web.console.analytics_export import CHARTS, table
from gateway.web.console.evaluation_api import Period
from ticketing.analytics.figures import Scope
from ticketing.analytics.hotspots import top_keywords_by_region

TOP_DEPARTMENTS = 3
TOP_KEYWORDS = 5


@dataclass(frozen=True)
class RegionIssues:
    code: str
    name: str
    tickets: int
    departments: list[tuple[str, int]]  # (department name, tickets), most first
    keywords: list[tuple[str, int]]  # (keyword, tickets), most first


@dataclass(frozen=True)
class MonthlyReport:
    period: Period
    data: dict[str, Any]
    regions: list[RegionIssues]
    sampled_every: int = 1  # the keywords were counted on one ticket in this many (then scaled up)


async def monthly_report(config: Config, period: Period, *, now: datetime) -> MonthlyReport:
    directory = config[DIRECTORY]
    data = await dashboard(config, period, Scope(period.first, period.last), now=now)
    known = names(directory)
    async with config[READ_SESSIONS]() as session:
        words, sampled_every = await top_keywords_by_region(session, directory, start=period.start,
                                                            end=period.end, top=TOP_KEYWORDS)
    by_region: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for cell in data["heat_map"]["cells"]:
        by_region[cell["region"]].append((known["department"].get(cell["department"], "未分类")
                                          if cell["department"] else "未分类", cell["count"]))
    regions = []
    for code, name in known["region"].items():
        departments = sorted(by_region.get(code, []), key=lambda item: (-item[1], item[0]))
        total = sum(count for _, count in departments)
        if total:
            regions.append(RegionIssues(code, name, total, departments[:TOP_DEPARTMENTS], words.get(code, [])))
    regions.sort(key=lambda r: -r.tickets)
    return MonthlyReport(period, data, regions, sampled_every)


def region_rows(report: MonthlyReport) -> list[list[Any]]:
    return [["区域", "来件量", "主要部门（件数）", "主要问题关键词（件数）"],
            *([r.name, r.tickets, "、".join(f"{name}（{n}）" for name, n in r.departments),
               "、".join(f"{word}（{n}）" for word, n in r.keywords)] for r in report.regions)]


def report_sheets(report: MonthlyReport) -> list[tuple[str, list[list[Any]]]]:
    data = report.data
    summary = [["指标", "数值"], ["来件总量", data["total"]], ["当前未办结", data["backlog"]["open"]],
               ["其中已超期", data["backlog"]["overdue"]]]
    return [("概览", summary), ("各区域主要问题", region_rows(report)),
            *((title, table(data, chart)) for chart, title in CHARTS.items())]


def report_text(report: MonthlyReport, link: str) -> tuple[str, str]:
    """The mail to the leaders: the headline figures and where to read the rest."""
    data, bot = report.data, report.data["bot"]
    lines = [f"平顶山12345 {report.period.label}数据分析报告", "",
             f"来件总量：{data['total']} 件；当前未办结 {data['backlog']['open']} 件，其中已超期 {data['backlog']['overdue']} 件。"]
    if bot["bot_share_pct"] is not None:
        lines.append(f"智能客服直接答复 {bot['faq_answers']} 次，引导紧急求助 {bot['emergencies']} 次，"
                     f"自行处理占比 {bot['bot_share_pct']}%。")
    types = "、".join(f"{t['name']} {t['count']} 件" for t in data["request_types"][:6])
    if types:
        lines.append(f"诉求类型：{types}。")
    if report.regions:
        lines += ["", "各区域主要问题："]
        for region in report.regions:
            words = "、".join(word for word, _ in region.keywords) or "—"
            lines.append(f"  {region.name}：{region.tickets} 件；{words}")
    lines += ["", f"完整报告（可打印、可下载 Excel）：{link}", "", "（平顶山12345 自动发送，请勿直接回复）"]
    return f"平顶山12345 {report.period.label}数据分析报告", "\n".join(lines)
