"""The dashboard's data as spreadsheet rows (one table per chart) and as an XLSX workbook."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Chart key → sheet title (Excel allows at most 31 characters and no slashes).
CHARTS = {
    "volume_by_day": "每日来件量",
    "volume_by_hour": "各时段来件量",
    "heat_map": "部门区域热力",
    "request_types": "诉求类型",
    "backlog": "积压与账龄",
    "bot": "智能客服分流",
    "units": "承办单位三率",
}


def _pct(value: float | None) -> float | str:
    return "" if value is None else value


def table(data: dict[str, Any], chart: str) -> list[list[Any]]:
    """The header row and the rows of one chart's data."""
    if chart == "volume_by_day":
        series = data["volume_by_day"]["series"]
        return [["日期", *(s["name"] for s in series), "合计"],
                *([day, *(s["data"][n] for s in series), sum(s["data"][n] for s in series)]
                  for n, day in enumerate(data["volume_by_day"]["days"]))]
    if chart == "volume_by_hour":
        series = data["volume_by_hour"]["series"]
        return [["时段", *(s["name"] for s in series), "合计"],
                *([f"{hour:02d}:00-{hour:02d}:59", *(s["data"][hour] for s in series),
                   sum(s["data"][hour] for s in series)] for hour in data["volume_by_hour"]["hours"])]
    if chart == "heat_map":
        heat = data["heat_map"]
        counts = {(c["department"], c["region"]): c["count"] for c in heat["cells"]}
        return [["部门＼区域", *(r["name"] for r in heat["regions"]), "合计"],
                *([d["name"], *(counts.get((d["code"], r["code"]), 0) for r in heat["regions"]),
                   sum(counts.get((d["code"], r["code"]), 0) for r in heat["regions"])] for d in heat["departments"])]
    if chart == "request_types":
        return [["诉求类型", "件数"], *([t["name"], t["count"]] for t in data["request_types"])]
    if chart == "backlog":
        backlog = data["backlog"]
        return [["项目", "件数"], ["未办结", backlog["open"]], ["其中已超期", backlog["overdue"]],
                *([f"账龄 {age['label']}", age["count"]] for age in backlog["ages"])]
    if chart == "bot":
        bot = data["bot"]
        return [["指标", "数值"], ["智能客服直接答复（未生成工单）", "" if bot["faq_answers"] is None else bot["faq_answers"]],
                ["引导拨打紧急电话", bot["emergencies"]], ["转人工", bot["handoffs"]],
                ["智能客服自行处理占比%", _pct(bot["bot_share_pct"])], ["预分类工单", bot["predicted"]],
                ["坐席更正预分类", bot["corrected"]], ["预分类更正率%", _pct(bot["correction_rate_pct"])]]
    if chart == "units":
        return [["承办单位", "收到交办", "响应率%", "解决率%", "满意率%"],
                *([u["name"], u["received"], _pct(u["response_pct"]), _pct(u["solved_pct"]),
                   _pct(u["satisfied_pct"])] for u in data["units"])]
    raise KeyError(chart)


def workbook(title: str, sheets: Iterable[tuple[str, list[list[Any]]]]) -> bytes:
    """One sheet per (title, rows): the report's title on top, the header in bold, frozen below."""
    book = Workbook()
    book.remove(book.active)
    for sheet_title, rows in sheets:
        sheet = book.create_sheet(sheet_title[:31])
        sheet.append([title])
        sheet["A1"].font = Font(bold=True)
        for n, row in enumerate(rows):
            sheet.append(row)
            if n == 0:
                for cell in sheet[2]:
                    cell.font = Font(bold=True)
        sheet.freeze_panes = "B3"
        sheet.column_dimensions["A"].width = 28
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
