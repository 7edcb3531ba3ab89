"""The desk API's request bodies (validated with these classes) and responses (documented with them;
the desk's tests check real responses against them)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field

from gateway.web.validation import RequestModel

Refusals = ClassVar[dict[str, tuple[int, str, str]]]

# --------------------------------------------------------------------------- requests


class DeskReturn(RequestModel):
    reason: str = Field(description="退回原因代码（directory.yaml handling.return_reasons）")
    text: str = Field(description="退回说明")
    refusals: Refusals = {"reason": (400, "invalid_reason", "请选择退回原因"),
                          "text": (400, "text_required", "请填写退回说明")}


class DeskReportText(RequestModel):
    """A progress note or an answer without files (with files: multipart/form-data, the text in
    ``text`` and the files in ``files``, repeatable)."""

    text: str
    refusals: Refusals = {"text": (400, "text_required", "请填写内容")}


class DeskExtensionRequest(RequestModel):
    until: str = Field(description="延期后的办结日期 YYYY-MM-DD（当日 24 时为新时限）")
    reason: str
    refusals: Refusals = {"until": (400, "invalid_date", "请填写延期后的办结日期（年-月-日）"),
                          "reason": (400, "reason_required", "请填写延期理由")}


# --------------------------------------------------------------------------- responses


class DeskTab(BaseModel):
    code: str
    label: str
    count: int


class DeskQueueRow(BaseModel):
    number: str
    title: str
    request_type: str | None
    request_type_label: str
    status: str
    status_label: str
    role: str = Field(description="lead 主办 | assist 协办")
    role_label: str
    round: int
    redo: bool = Field(description="重办（群众评价未解决或不满意后再次交办）")
    state: str
    state_label: str
    dispatched_at: str | None
    dispatched_local: str
    sign_deadline: str | None
    sign_deadline_local: str
    deadline: str | None
    deadline_local: str
    ended_at: str | None
    ended_local: str
    due: str | None = Field(description="ok | warning | overdue（已结束的为 null）")
    sign_due: str | None
    due_label: str
    unacknowledged: int = Field(description="未签收的督办单数")


class DeskQueueResponse(BaseModel):
    tab: str
    tabs: list[DeskTab]
    rows: list[DeskQueueRow]
    total: int
    offset: int
    limit: int


class DeskTicketView(BaseModel):
    number: str
    title: str
    status: str
    status_label: str
    read_only: bool = Field(description="本单位曾办理、现已不在本单位：只读")
    classification: dict[str, str | None]
    contact: dict[str, str | bool | None]
    words: list[dict]
    loose_attachments: list[dict]
    dispatch: dict | None
    rounds: list[dict]
    timeline: list[dict]
    supervision: list[dict]
    reports: list[dict]
    review_feedback: list[dict]
    extension: dict | None
    return_reasons: list[dict[str, str]]
    permissions: dict[str, bool]

    model_config = {"extra": "allow"}


class DeskTicketResponse(BaseModel):
    ticket: DeskTicketView


class DeskReportCreated(BaseModel):
    ticket: DeskTicketView
    report_id: int


class DeskRevealedPhone(BaseModel):
    contact: dict[str, str | None]
