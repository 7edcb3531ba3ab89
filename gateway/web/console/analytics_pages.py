"""The analytics pages: the dashboard ``/console/analytics`` (ECharts, filters, a 大屏 mode, each
chart as PNG and its data as ``/console/analytics/charts/{chart}.xlsx``), the hot-spot alerts live at
``/console/analytics/events``, and the monthly report ``/console/analytics/report?month=YYYY-MM``
(printable HTML, ``report.xlsx``, and sent by a supervisor to the leaders' list)."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from gateway.channels.office_mail import notify_office
from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, SETTINGS
from gateway.infra.sse import relay
from gateway.web.auth import SUPERVISORS, flash, require_role
from gateway.web.console.analytics_api import ALERTS_SHOWN_DAYS, ANALYSTS, dashboard, hotspots, names, scope_of
from gateway.web.console.analytics_export import CHARTS, XLSX, table, workbook
from gateway.web.console.analytics_report import monthly_report, report_sheets, report_text
from gateway.web.console.evaluation_api import period_of
from gateway.web.console.page_actions import page_action
from gateway.web.errors import ApiError
from gateway.web.staff_pages import render
from ticketing.db.models.base import utcnow

routes = web.RouteTableDef()


def _download(body: bytes, filename: str) -> web.Response:
    return web.Response(body=body, content_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@routes.get("/console/analytics")
@require_role(*ANALYSTS)
async def analytics_page(request: web.Request) -> web.Response:
    config, now = request.config_dict, utcnow()
    directory = config[DIRECTORY]
    try:
        period, scope = scope_of(request.query, directory, now)
    except ApiError as exc:
        await flash(request, exc.message, "error")
        period, scope = scope_of({}, directory, now)
    spots = await hotspots(config, now=now)
    query = urlencode({"from": period.first.isoformat(), "to": period.last.isoformat(), **scope.filters()})
    return await render(request, "console/analytics.html", {
        "nav": "analytics", "period": period, "scope": scope, "query": query, "names": names(directory),
        "charts": CHARTS, "hotspots": spots, "alerts_days": ALERTS_SHOWN_DAYS,
    })


@routes.get("/console/analytics/events")
@require_role(*ANALYSTS)
async def analytics_events(request: web.Request) -> web.StreamResponse:
    """Hot-spot alerts as the worker raises them."""
    replies = request.config_dict[REPLIES]
    return await relay(request, replies.subscribe(replies.analytics_topic), name=lambda event: "hotspot")


@routes.get("/console/analytics/charts/{chart}.xlsx")
@require_role(*ANALYSTS)
async def chart_xlsx(request: web.Request) -> web.Response:
    chart = request.match_info["chart"]
    if chart not in CHARTS:
        raise web.HTTPNotFound(text="没有这个图表")
    now = utcnow()
    period, scope = scope_of(request.query, request.config_dict[DIRECTORY], now)
    data = await dashboard(request.config_dict, period, scope, now=now)
    title = f"平顶山12345 {CHARTS[chart]}（{period.label}）"
    return _download(workbook(title, [(CHARTS[chart], table(data, chart))]),
                     f"analytics-{chart}-{period.first.isoformat()}_{period.last.isoformat()}.xlsx")


@routes.get("/console/analytics/report")
@require_role(*ANALYSTS)
async def report_page(request: web.Request) -> web.Response:
    now = utcnow()
    try:
        period = period_of({"month": request.query.get("month", "")}, now)
    except ApiError as exc:
        await flash(request, exc.message, "error")
        period = period_of({}, now)
    report = await monthly_report(request.config_dict, period, now=now)
    return await render(request, "console/analytics_report.html", {"nav": "analytics", "report": report,
                                                                    "period": period})


@routes.get("/console/analytics/report.xlsx")
@require_role(*ANALYSTS)
async def report_xlsx(request: web.Request) -> web.Response:
    now = utcnow()
    period = period_of({"month": request.query.get("month", "")}, now)
    report = await monthly_report(request.config_dict, period, now=now)
    return _download(workbook(f"平顶山12345 月度分析报告（{period.label}）", report_sheets(report)),
                     f"analytics-report-{period.first.strftime('%Y-%m')}.xlsx")


@routes.post("/console/analytics/report/send")
@require_role(*SUPERVISORS)
@page_action
async def send_report(request: web.Request) -> web.Response:
    form = await request.post()
    config, now = request.config_dict, utcnow()
    period = period_of({"month": str(form.get("month", ""))}, now)
    report = await monthly_report(config, period, now=now)
    link = f"{config[SETTINGS].public_url}/console/analytics/report?month={period.first.strftime('%Y-%m')}"
    subject, body = report_text(report, link)
    results = await notify_office(config, config[DIRECTORY].analytics.leader_emails, subject, body)
    sent = sum(r.delivered for r in results)
    if sent:
        await flash(request, f"月度报告已发送至领导邮件组（{sent} 个地址）")
    else:
        await flash(request, "月度报告未能发送：" + (results[0].detail or "发信失败"), "error")
    raise web.HTTPSeeOther(f"/console/analytics/report?month={period.first.strftime('%Y-%m')}")
