"""考评 pages: the ranking of units with the per-operator error figures at ``/console/evaluation``, and the
same report as ``/console/evaluation.csv`` (UTF-8 with a BOM, so Excel reads the Chinese) and
``/console/evaluation.xlsx``, with the page's query (``month``, or ``from``/``to``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from openpyxl import Workbook
from openpyxl.styles import Font

from gateway.web.auth import flash, require_role
from gateway.web.console.evaluation_api import EVALUATORS, Period, Report, evaluation_report, period_of
from gateway.web.errors import ApiError
from gateway.web.staff_pages import render
from ticketing.accounts.roles import ROLE_LABELS
from ticketing.db.models.base import utcnow
from ticketing.workflow.evaluation import RATE_LABELS, UnitFigures
from ticketing.workflow.operator_errors import OperatorErrors

routes = web.RouteTableDef()

KIND_LABELS = {"department": "职能部门", "region": "县（市、区）远端坐席"}
UNIT_COLUMNS = ("名次", "单位", "类别", "得分", "收到交办", "按时签收率%", "按时答复率%", "退回率%", "延期率%",
                "解决率%", "满意率%", "超期件数", "督办次数", "已评价件数")
OPERATOR_COLUMNS = ("坐席", "用户名", "角色", "审核工单", "分类被他人更正", "交办被以非本单位职责退回",
                    "审核通过但群众不满意/未解决", "差错合计", "每百件差错")


def _number(value: float | None) -> float | str:
    return "" if value is None else round(value, 2)


def unit_rows(units: Iterable[UnitFigures]) -> list[list[Any]]:
    out = []
    for u in units:
        d = u.to_dict()
        out.append([u.rank or "—", u.name, KIND_LABELS.get(u.kind, u.kind), d["score"], u.received,
                    *(_number(d[k]) for k in ("signed_on_time_pct", "answered_on_time_pct", "returned_pct",
                                              "extended_pct", "solved_pct", "satisfied_pct")),
                    u.overdue, u.supervision_notes, d["surveys"]])
    return out


def operator_rows(operators: Iterable[OperatorErrors]) -> list[list[Any]]:
    return [[o.display_name, o.username, ROLE_LABELS.get(o.role, o.role), o.reviewed, o.corrected_by_others,
             o.wrong_dispatches, o.bad_answers_approved, o.errors, _number(o.error_rate)] for o in operators]


def _filename(period: Period, ext: str) -> str:
    return f"evaluation-{period.first.isoformat()}_{period.last.isoformat()}.{ext}"


def _download(body: bytes, content_type: str, filename: str, *, charset: str | None = None) -> web.Response:
    return web.Response(body=body, content_type=content_type, charset=charset, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})


@routes.get("/console/evaluation")
@require_role(*EVALUATORS)
async def evaluation_page(request: web.Request) -> web.Response:
    now = utcnow()
    try:
        period = period_of(request.query, now)
    except ApiError as exc:
        await flash(request, exc.message, "error")
        period = period_of({}, now)
    report = await evaluation_report(request.config_dict, period, now=now)
    return await render(request, "console/evaluation.html", {
        "nav": "evaluation", "report": report, "period": period, "rate_labels": RATE_LABELS,
        "kind_labels": KIND_LABELS, "role_labels": ROLE_LABELS,
    })


@routes.get("/console/evaluation.csv")
@require_role(*EVALUATORS)
async def evaluation_csv(request: web.Request) -> web.Response:
    """The unit ranking; ``table=operators`` gives the operators' error figures instead."""
    period = period_of(request.query, utcnow())
    report = await evaluation_report(request.config_dict, period)
    operators = request.query.get("table") == "operators"
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(OPERATOR_COLUMNS if operators else UNIT_COLUMNS)
    writer.writerows(operator_rows(report.operators) if operators else unit_rows(report.units))
    # The byte-order mark tells Excel the file is UTF-8 (without it, Chinese turns to mojibake).
    body = "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    name = _filename(period, "operators.csv" if operators else "csv")
    return _download(body, "text/csv", name, charset="utf-8")


def workbook(report: Report) -> bytes:
    book = Workbook()
    sheets = ((book.active, "单位考评", UNIT_COLUMNS, unit_rows(report.units)),
              (book.create_sheet(), "坐席差错", OPERATOR_COLUMNS, operator_rows(report.operators)))
    for sheet, title, columns, rows in sheets:
        sheet.title = title
        sheet.append([f"平顶山12345 考评（{report.period.label}）"])
        sheet.append(list(columns))
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        sheet.freeze_panes = "A3"
    weights = book.create_sheet("权重")
    weights.append(["指标", "权重"])
    for rate, weight in report.weights.items():
        weights.append([RATE_LABELS.get(rate, rate), weight])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@routes.get("/console/evaluation.xlsx")
@require_role(*EVALUATORS)
async def evaluation_xlsx(request: web.Request) -> web.Response:
    period = period_of(request.query, utcnow())
    report = await evaluation_report(request.config_dict, period)
    return _download(workbook(report), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     _filename(period, "xlsx"))
