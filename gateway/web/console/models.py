"""The console API's request bodies (validated with these classes) and responses (documented with
them; ``tests/gateway/web/console/test_models.py`` checks real responses against them)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Field

from gateway.web.validation import RequestModel

Refusals = ClassVar[dict[str, tuple[int, str, str]]]

# --------------------------------------------------------------------------- requests


class Login(RequestModel):
    username: str
    password: str
    refusals: Refusals = {"username": (400, "invalid_body", "请填写用户名和密码"),
                          "password": (400, "invalid_body", "请填写用户名和密码")}


class ShiftChange(RequestModel):
    on_shift: bool = False


class Reassignment(RequestModel):
    username: str | None = Field(None, description="坐席用户名；null 表示退回公共队列")
    refusals: Refusals = {"username": (400, "invalid_username", "username 必须是文本或 null")}


class Classification(RequestModel):
    """Fields left out stay as they are; none at all confirms the classification."""

    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    urgent: bool | None = None


class Reply(RequestModel):
    text: str | None = None
    mark_answered: bool = False


class Note(RequestModel):
    text: str | None = None


class Merge(RequestModel):
    into: str | None = Field(None, description="合并到的工单号")


BULK_LIMIT = 200  # the longest queue page


class BulkAction(RequestModel):
    """One action on several tickets; each ticket is done in its own transaction."""

    action: Literal["claim", "assign", "merge"] = Field(description="claim 认领；assign 分派给坐席（班长）；merge 合并到主工单")
    numbers: list[Annotated[str, Field(max_length=40)]] = Field(min_length=1, max_length=BULK_LIMIT, description="所选工单号（最多 200 个）")
    username: str | None = Field(None, description="assign：接收工单的坐席用户名；null 表示退回公共队列")
    into: str | None = Field(None, description="merge：主工单号，须是所选工单之一；其余工单合并到它")
    refusals: Refusals = {
        "action": (400, "invalid_action", "action 只能是 claim、assign 或 merge"),
        "numbers:too_short": (400, "no_tickets", "请至少选择一件工单"),
        "numbers:too_long": (413, "too_many_tickets", f"一次最多处理 {BULK_LIMIT} 件工单"),
        "numbers": (400, "invalid_numbers", "numbers 必须是工单号列表"),
        "username": (400, "invalid_username", "username 必须是文本或 null"),
        "into": (400, "invalid_into", "into 必须是工单号"),
    }


class LifecycleNote(RequestModel):
    note: str | None = None
    reason: str | None = Field(None, description="重新打开的原因（同 note）")


class DispatchOrder(RequestModel):
    """交办, or 改派 of a ticket a unit returned."""

    target_kind: Literal["department", "region"] | None = None
    target: str | None = Field(None, description="主办单位代码（承办部门或县（市、区）远端坐席）")
    note: str | None = None
    assists: list[str] = Field(default_factory=list, max_length=20, description="协办单位代码（最多 5 个）")
    deadline: str | None = Field(None, description="自定办理时限 YYYY-MM-DD（当日 24 时止），须同时填写理由")
    deadline_reason: str | None = Field(None, max_length=5000, description="自定办理时限的理由")
    refusals: Refusals = {"target_kind": (400, "invalid_target", "请选择转办对象"),
                          "target": (400, "invalid_target", "请选择转办对象"),
                          "assists": (400, "invalid_assist", "协办单位须为单位代码列表")}


class ManualIntakeRequest(RequestModel):
    """JSON, or the same fields as multipart/form-data (scans in ``attachments``)."""

    channel: str = Field("", description="phone（电话）或 letter（来信）")
    text: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    title: str | None = None
    department: str | None = None
    region: str | None = None
    request_type: str | None = None
    urgent: bool | str | None = None
    prediction: dict[str, Any] | None = Field(None, description="录入时 NLU 给出的预分类（POST /api/v1/nlu/parse 的结果，用于训练建议）")
    csrf_token: str | None = Field(None, description="表单提交时的 CSRF 令牌")


class CannedReplyRequest(RequestModel):
    title: str | None = None
    text: str | None = None
    shared: bool = Field(False, description="公共常用语（仅班长）")


class AutoAssignSwitch(RequestModel):
    enabled: bool = False


class NewUser(RequestModel):
    username: str = ""
    role: str = ""
    password: str = ""
    display_name: str | None = None


class UserChange(RequestModel):
    role: str | None = None
    display_name: str | None = None
    active: bool | None = None
    password: str | None = None
    unlock: bool | None = None


# --------------------------------------------------------------------------- responses


class CsrfToken(BaseModel):
    csrf_token: str
    header: str


class UserView(BaseModel):
    username: str
    display_name: str
    role: Literal["operator", "supervisor", "admin"]
    role_label: str
    active: bool
    on_shift: bool
    locked: bool
    last_login_at: str | None


class UserResponse(BaseModel):
    user: UserView


class UsersResponse(BaseModel):
    users: list[UserView]


class OperatorsResponse(BaseModel):
    operators: list[UserView]


class ShiftView(BaseModel):
    on_duty: bool
    start: str
    end: str
    next_start: str | None


class MeResponse(BaseModel):
    user: UserView
    shift: ShiftView


class TicketSummary(BaseModel):
    number: str
    channel: str
    channel_label: str
    title: str
    status: str
    status_label: str
    urgent: bool
    classification: Literal["unclassified", "predicted", "confirmed"]
    department: str | None
    department_label: str
    region: str | None
    region_label: str
    request_type: str | None
    request_type_label: str
    assignee: str | None
    created_at: str | None
    updated_at: str | None
    deadline: str | None
    overdue: bool
    waiting_seconds: int
    waiting_label: str
    phone_masked: str | None = Field(description="脱敏号码，如 138****2345")
    off_hours: bool = Field(description="在网络热线工作时间以外进线")
    due: Literal["ok", "warning", "overdue"] = Field("ok", description="warning：已用时限 80% 以上（即将超期）；overdue：已超期")
    due_label: str = ""
    workdays_left: int | None = Field(None, description="距办理时限的剩余工作日（0：今日到期；负数：已超期的工作日数）；"
                                                        "无时限或不在办理中时为空")
    workdays_label: str = Field("", description="如“剩 3 个工作日”“今日到期”“超期 2 个工作日”")
    unit: str | None = Field(None, description="主办单位代码（已交办时）")
    unit_label: str = ""
    unread: bool = Field(False, description="有当前用户上次打开该工单之后的群众留言或单位办理动态（未读）")


class QueuePage(BaseModel):
    tickets: list[TicketSummary]
    total: int | None
    limit: int
    offset: int
    search: bool


class BulkItemResult(BaseModel):
    number: str
    ok: bool
    code: str | None = Field(None, description="失败时的错误代码")
    message: str = Field(description="结果说明（中文），失败时为原因")


class BulkResponse(BaseModel):
    action: Literal["claim", "assign", "merge"]
    results: list[BulkItemResult]
    succeeded: int
    failed: int


class QueueCounts(BaseModel):
    pending: int
    urgent: int
    unclaimed: int


class Alternative(BaseModel):
    code: str
    label: str
    confidence: float | None


class Prediction(BaseModel):
    department: str | None
    region: str | None
    request_type: str | None
    request_type_confidence: float | None = Field(
        None, description="诉求类型模型对 request_type 的置信度；由规则判定时为空")
    request_type_unsure: bool = Field(
        False, description="置信度低于阈值（nlu/thresholds.py request_type_unsure），请坐席核对诉求类型")
    request_type_alternatives: list[Alternative] = Field(
        [], max_length=2, description="模型排在其后的诉求类型（候选）")
    intent: str | None
    confidence: float | None
    alternatives: list[Alternative] = Field(max_length=3)
    model_version: str | None


class EntryView(BaseModel):
    id: int
    author: str
    author_name: str | None
    channel: str
    text: str
    public: bool
    kind: Literal["message", "reply", "note"] | str
    delivery_status: Literal["sent", "pending", "failed"] | None
    delivery_detail: str | None
    created_at: str | None
    attachments: list[dict[str, Any]]


class ContactView(BaseModel):
    name: str | None
    phone: str | None
    email: str | None
    wechat_openid: str | None
    masked: bool


class Permissions(BaseModel):
    claim: bool
    act: bool
    reveal: bool
    reassign: bool
    mine: bool


class TicketDetail(TicketSummary):
    contact: ContactView
    entries: list[EntryView]
    events: list[dict[str, Any]]
    prediction: Prediction | None
    dispatch: dict[str, Any] | None
    permissions: Permissions
    loop: LoopView | None = None


class TicketResponse(BaseModel):
    ticket: TicketDetail


class CreatedTicket(BaseModel):
    ticket: TicketSummary


class Delivery(BaseModel):
    entry_id: int
    status: str | None
    detail: str | None


class ReplyResponse(TicketResponse):
    delivery: Delivery


class DeliveryResponse(BaseModel):
    delivery: Delivery


class RevealedContact(BaseModel):
    contact: dict[str, Any]


class CannedReply(BaseModel):
    id: int | str
    title: str
    text: str
    kind: Literal["own", "shared", "faq"]


class CannedReplies(BaseModel):
    canned_replies: list[CannedReply]


class OperatorStats(BaseModel):
    username: str
    display_name: str
    role: str
    on_shift: bool
    handled: int
    replies: int
    median_first_reply_seconds: float | None
    corrected_by_others: int
    corrections_made: int
    reopened: int
    open_assigned: int


class StatsResponse(BaseModel):
    days: int
    since: str
    operators: list[OperatorStats]
    queue: QueueCounts


class AutoAssignState(BaseModel):
    enabled: bool
    assigned_now: int | None = None


class AuditRecord(BaseModel):
    at: str
    actor: str
    action: str
    ticket_id: int | None
    target: str | None
    ip: str | None
    detail: dict[str, Any] | None


class AuditLog(BaseModel):
    audit: list[AuditRecord]


# --------------------------------------------------------------------------- 考评 (evaluation)

class UnitEvaluation(BaseModel):
    unit: str
    name: str
    kind: Literal["department", "region"]
    rank: int = Field(description="名次；本周期未收到交办的单位为 0，排在最后")
    score: float = Field(description="加权得分 0–100；无数据的比率按 100% 计")
    received: int = Field(description="收到的主办交办件次（含重办）")
    signed_on_time_pct: float | None
    answered_on_time_pct: float | None
    returned_pct: float | None
    extended_pct: float | None
    solved_pct: float | None
    satisfied_pct: float | None
    returned: int
    extended: int
    surveys: int = Field(description="已评价（含裁定）的一事一评件数")
    overdue: int
    supervision_notes: int


class OperatorErrorFigures(BaseModel):
    username: str
    display_name: str
    role: str
    reviewed: int = Field(description="审核（受理答复、交办、合并、答复审核）过的工单数")
    corrected_by_others: int = Field(description="其分类被他人更正的次数")
    wrong_dispatches: int = Field(description="被承办单位以“非本单位职责”退回的交办")
    bad_answers_approved: int = Field(description="审核通过、群众评价为未解决或不满意的答复（不含裁定不合理的）")
    errors: int
    error_rate_pct: float | None = Field(description="每百件审核的差错数")


class EvaluationResponse(BaseModel):
    from_: str = Field(alias="from")
    to: str
    start: str
    end: str
    weights: dict[str, float]
    units: list[UnitEvaluation]
    operators: list[OperatorErrorFigures]


# --------------------------------------------------------------------------- 回访 (callback seats)


class CallbackRecord(RequestModel):
    """A phone callback: reached (with the citizen's evaluation) or not reached (with a note)."""

    reached: bool = Field(description="是否联系上群众")
    solved: bool | None = Field(None, description="联系上时必填：问题是否已解决")
    satisfaction: Literal["satisfied", "basic", "unsatisfied"] | None = Field(
        None, description="联系上时必填：satisfied 满意 / basic 基本满意 / unsatisfied 不满意")
    comment: str | None = Field(None, description="群众意见（≤1000 字）")
    note: str | None = Field(None, description="未联系上时的说明（≤500 字）")
    refusals: Refusals = {"reached": (400, "reached_required", "请选择是否联系上群众"),
                          "solved": (400, "solved_required", "请选择问题是否已解决"),
                          "satisfaction": (400, "satisfaction_required", "请选择满意程度：满意、基本满意或不满意")}


class Ruling(RequestModel):
    reason: str | None = Field(None, description="裁定不合理的理由（必填）")


class CallbackItem(BaseModel):
    survey_id: int
    ticket_no: str
    ticket_status: str
    ticket_status_label: str
    unit: str | None
    unit_name: str
    channel: str
    channel_label: str
    created_at: str
    expires_at: str
    answer_excerpt: str | None = Field(description="已通过审核的答复摘要（联系方式已脱敏）")
    citizen_name: str | None
    phone_masked: str | None = Field(description="脱敏号码；完整号码须调用 reveal（记入审计日志）")
    callback_attempts: int
    last_callback_at: str | None
    callback_note: str | None
    unreachable: bool = Field(description="多次联系未果（3 次及以上未联系上）")
    responded_at: str | None
    source: str | None
    solved: bool | None
    satisfaction: str | None
    comment: str | None
    outcome: str | None


class CallbackQueue(BaseModel):
    view: Literal["due", "redo"]
    surveys: list[CallbackItem]


# --------------------------------------------------------------------------- the handling loop (platform side)


class LoopView(BaseModel):
    """交办轮次、单位报告、延期申请、督办单、一事一评。"""

    rounds: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    extensions: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    surveys: list[dict[str, Any]]
    pending_extension: dict[str, Any] | None
    pending_answer: dict[str, Any] | None
    returns: int = Field(description="本工单被单位退回的次数")


class ReviewDecision(RequestModel):
    decision: Literal["approve", "reject"] | None = None
    text: str | None = Field(None, max_length=5000, description="通过时可修改答复措辞（单位原文留在记录中）")
    reason: str | None = Field(None, max_length=5000, description="退回理由（退回时必填）")
    refusals: Refusals = {"decision": (400, "invalid_decision", "审核结论须为通过（approve）或退回（reject）")}


class ExtensionDecision(RequestModel):
    approve: bool | None = None
    note: str | None = Field(None, max_length=5000, description="不同意时必填理由")
    refusals: Refusals = {"approve": (400, "invalid_decision", "请选择同意或不同意延期")}


class DeadlineChange(RequestModel):
    date: str | None = Field(None, description="新的办理时限 YYYY-MM-DD（当日 24 时止）")
    reason: str | None = Field(None, max_length=5000)


class SupervisionOrder(RequestModel):
    text: str | None = Field(None, max_length=5000, description="督办意见")
    date: str | None = Field(None, description="督办后的办结时限 YYYY-MM-DD（可选）")


class ReviewResponse(TicketResponse):
    review: dict[str, Any] = Field(description="decision、report_id；通过时含 delivery（发送结果）")


class LoopRow(BaseModel):
    number: str
    title: str
    status: str
    status_label: str
    unit: str | None
    unit_label: str
    due: Literal["ok", "warning", "overdue"]
    due_label: str
    deadline: str | None
    deadline_local: str
    since: str | None = Field(description="该栏目的起算时间（退回、提交答复、申请延期、交办）")
    since_local: str
    detail: dict[str, Any] = Field(description="栏目相关内容：退回原因与说明、答复、延期日期与理由等")


class LoopPage(BaseModel):
    tab: Literal["returned", "review", "extension", "warning", "overdue", "sign_overdue"]
    counts: dict[str, int]
    rows: list[LoopRow]
    total: int
    limit: int
    offset: int


class CallbackPhone(BaseModel):
    name: str | None
    phone: str


class CallbackResult(BaseModel):
    survey: CallbackItem


# The ticket's loop section is declared after the ticket: resolve the forward reference.
for _model in (TicketDetail, TicketResponse, ReplyResponse, ReviewResponse):
    _model.model_rebuild()
