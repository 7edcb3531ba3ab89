"""The OpenAPI 3 document of every public and console API (``/api/openapi.json``) and a
browsable page rendered from it on the server (``/api/docs``; no CDN, no script).

Operations are described here by hand; any ``/api/`` route registered by a module that is
not described yet still appears (as a bare entry marked undocumented), so the document
never silently omits an endpoint.  Console operations carry the roles their handler
enforces (``x-roles``), read from the handler itself, so the document cannot drift from
the checks.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway.web.audiences import all_routes
from gateway.web.auth import roles_of
from gateway.web.json_io import json_response

DOC_KEY: web.AppKey[dict] = web.AppKey("openapi_document", dict)

ROLE_LABELS = {"operator": "坐席", "supervisor": "班长", "admin": "管理员"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), extra: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    if not extra:
        out["additionalProperties"] = False
    return out


S = {"type": "string"}
SN = {"type": "string", "nullable": True}
B = {"type": "boolean"}
I = {"type": "integer"}  # noqa: E741

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({"code": S, "message": {**S, "description": "中文说明，可直接展示"}},
                                 ("code", "message"))}, ("error",)),
    "WebMessage": _obj({
        "session_id": {**S, "pattern": "^[A-Za-z0-9_-]{16,64}$"},
        "text": {**S, "maxLength": 5000},
        "name": S, "phone": S,
        "client_message_id": {**S, "description": "客户端生成的消息 ID，重试时保持不变即可去重"},
    }, ("session_id", "text"), extra=False),
    "ChatMessage": _obj({"id": I, "author": {"type": "string", "enum": ["citizen", "bot", "operator", "system"]},
                         "author_name": SN, "text": S, "created_at": S, "ticket_no": SN}),
    "Progress": _obj({"ticket_no": S, "status": S, "status_label": S, "created_at": S, "deadline": SN,
                      "timeline": {"type": "array", "items": {"type": "object"}},
                      "replies": {"type": "array", "items": {"type": "object"}}}),
    "NluResult": _obj({
        "request_type": SN, "department": SN, "region": SN,
        "department_alternatives": {"type": "array", "items": _obj({"code": S, "confidence": {"type": "number"}})},
        "emergency": {"type": "object", "nullable": True}, "faq": {"type": "object", "nullable": True},
        "handoff": B, "intent": {"type": "object", "nullable": True}, "model": SN,
    }),
    "User": _obj({"username": S, "display_name": S, "role": {"type": "string", "enum": list(ROLE_LABELS)},
                  "role_label": S, "active": B, "on_shift": B, "locked": B, "last_login_at": SN}),
    "TicketSummary": _obj({
        "number": S, "channel": S, "channel_label": S, "title": S, "status": S, "status_label": S, "urgent": B,
        "classification": {"type": "string", "enum": ["unclassified", "predicted", "confirmed"]},
        "department": SN, "department_label": S, "region": SN, "region_label": S, "request_type": SN,
        "request_type_label": S, "assignee": SN, "created_at": S, "updated_at": S, "deadline": SN,
        "overdue": B, "waiting_seconds": I, "waiting_label": S,
        "phone_masked": {**SN, "description": "脱敏号码，如 138****2345"},
        "off_hours": {**B, "description": "在网络热线工作时间以外进线"},
    }),
    "Prediction": _obj({
        "department": SN, "region": SN, "request_type": SN, "confidence": {"type": "number", "nullable": True},
        "alternatives": {"type": "array", "maxItems": 3,
                         "items": _obj({"code": S, "label": S, "confidence": {"type": "number", "nullable": True}})},
        "model_version": SN, "intent": SN,
    }),
    "Entry": _obj({
        "id": I, "author": S, "author_name": SN, "channel": S, "text": S, "public": B,
        "kind": {"type": "string", "enum": ["message", "reply", "note"]},
        "delivery_status": {"type": "string", "nullable": True, "enum": ["sent", "pending", "failed", None]},
        "delivery_detail": SN, "created_at": S, "attachments": {"type": "array", "items": {"type": "object"}},
    }),
    "TicketDetail": {"allOf": [_ref("TicketSummary"), _obj({
        "contact": _obj({"name": SN, "phone": SN, "email": SN, "wechat_openid": SN, "masked": B}),
        "entries": {"type": "array", "items": _ref("Entry")},
        "events": {"type": "array", "items": {"type": "object"}},
        "prediction": {**_ref("Prediction"), "nullable": True},
        "dispatch": {"type": "object", "nullable": True},
        "permissions": _obj({"claim": B, "act": B, "reveal": B, "reassign": B, "mine": B}),
    })]},
    "TicketResponse": _obj({"ticket": _ref("TicketDetail")}),
    "Classification": _obj({"department": SN, "region": SN, "request_type": SN, "urgent": B}, extra=False),
    "ManualIntake": _obj({
        "channel": {"type": "string", "enum": ["phone", "letter"]}, "text": S, "name": S, "phone": S, "email": S,
        "title": S, "department": S, "region": S, "request_type": S, "urgent": B,
        "prediction": {**_ref("NluResult"), "description": "录入时 NLU 给出的预分类（用于训练建议）"},
    }, ("channel", "text")),
    "OperatorStats": _obj({
        "username": S, "display_name": S, "role": S, "on_shift": B, "handled": I, "replies": I,
        "median_first_reply_seconds": {"type": "number", "nullable": True},
        "corrected_by_others": I, "corrections_made": I, "reopened": I, "open_assigned": I,
    }),
    "TrainingSuggestion": _obj({
        "id": I, "ticket_id": I, "field": S, "text": S, "predicted": SN, "chosen": SN,
        "confidence": {"type": "number", "nullable": True}, "model_version": SN, "operator": S,
        "status": {"type": "string", "enum": ["new", "accepted", "rejected"]}, "created_at": S,
    }),
}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    tag: str
    summary: str
    description: str = ""
    body: dict[str, Any] | None = None
    body_type: str = "application/json"
    query: tuple[tuple[str, str], ...] = ()  # (name, description)
    responses: dict[int, str | tuple[str, dict[str, Any]]] = field(default_factory=dict)
    security: str | None = None  # console | admin_token | None


def _body(**props: Any) -> dict[str, Any]:
    return _obj(props)


TICKET = ("工单详情（联系方式已脱敏）", _ref("TicketResponse"))
P = "/api/v1/console"
N = P + "/tickets/{number}"

OPERATIONS: list[Op] = [
    # --- citizens ---------------------------------------------------------------------------
    Op("post", "/api/v1/web/messages", "群众", "网页留言 / 在线咨询：提交一条消息",
       "消息进入受理队列后返回 202；Redis 不可用时返回 503，请稍后重试（消息不会半写入）。",
       body=_ref("WebMessage"), responses={202: ("已受理", _obj({"message_id": S})), 400: "参数错误",
                                           413: "内容过长", 415: "需要 JSON", 429: "发送过于频繁", 503: "暂不可用"}),
    Op("get", "/api/v1/web/sessions/{session_id}/messages", "群众", "读取网页会话的消息（群众可见部分）",
       query=(("after", "只返回 id 大于该值的消息"),),
       responses={200: ("消息列表", _obj({"messages": {"type": "array", "items": _ref("ChatMessage")}}))}),
    Op("get", "/api/v1/web/sessions/{session_id}/events", "群众", "网页会话的实时事件（SSE）",
       "text/event-stream：智能客服答复、坐席加入（operator_joined）、坐席答复（message）。",
       responses={200: "事件流"}),
    Op("get", "/api/v1/tickets/{ticket_no}", "群众", "办件进度查询",
       "需提供手机号后四位；工单号不存在与号码不符返回同样的 404（防止枚举）。",
       query=(("phone_last4", "手机号后四位（必填）"),),
       responses={200: ("进度", _ref("Progress")), 400: "参数错误", 404: "未找到", 429: "查询过于频繁"}),
    Op("post", "/api/v1/nlu/parse", "群众", "智能分类（NLU）：部门、区域、诉求类型、紧急、常见问题",
       "坐席人工录入时也用它做预分类。", body=_body(text=S),
       responses={200: ("分类结果", _ref("NluResult")), 400: "参数错误", 429: "请求过于频繁"}),
    Op("get", "/wechat", "群众", "微信公众号服务器地址验证（signature/echostr）",
       "仅在配置 WECHAT_TOKEN 后启用。", responses={200: "echostr", 403: "签名错误"}),
    Op("post", "/wechat", "群众", "微信公众号消息回调（明文或安全模式 AES）",
       "仅在配置 WECHAT_TOKEN 后启用；5 秒内被动回复，来不及时改用客服消息。",
       body_type="text/xml", body={"type": "string", "format": "xml"}, responses={200: "被动回复或 success"}),
    Op("get", "/api/openapi.json", "运维", "本文档（OpenAPI 3）", responses={200: "JSON"}),
    Op("get", "/api/docs", "运维", "本文档的浏览页面", responses={200: "HTML"}),
    Op("get", "/healthz", "运维", "健康检查：数据库、Redis、NLU", responses={200: "全部正常", 503: "有组件不可用"}),
    Op("get", "/metrics", "运维", "Prometheus 指标", responses={200: "text/plain 指标"}),
    # --- admin token --------------------------------------------------------------------------
    Op("get", "/api/v1/admin/dead-letters", "管理（令牌或管理员登录）", "死信列表（处理失败的消息）",
       query=(("limit", "最多条数"),), security="admin_token", responses={200: "死信", 401: "令牌无效"}),
    Op("post", "/api/v1/admin/dead-letters/{entry_id}/replay", "管理（令牌或管理员登录）", "重放一条死信",
       security="admin_token", responses={202: "已重新入队", 404: "没有这条死信"}),
    Op("get", "/api/v1/admin/intake", "管理（令牌或管理员登录）", "受理队列积压情况", security="admin_token",
       responses={200: "积压"}),
    Op("get", "/api/v1/admin/national-feed", "管理（令牌或管理员登录）", "全国平台对接状态", security="admin_token",
       responses={200: "状态"}),
    Op("post", "/api/v1/admin/national-feed/retry", "管理（令牌或管理员登录）", "重试失败的回传", security="admin_token",
       responses={200: "结果"}),
    # --- console: session ---------------------------------------------------------------------
    Op("get", f"{P}/csrf", "坐席台：登录", "取得 CSRF 令牌",
       "返回令牌并设置配对的 Cookie；之后每个非 GET 请求都要在 X-CSRF-Token 头中带上它。",
       responses={200: ("令牌", _obj({"csrf_token": S, "header": S}))}),
    Op("post", f"{P}/login", "坐席台：登录", "登录", "连续 5 次密码错误锁定 15 分钟（423）。",
       body=_body(username=S, password=S),
       responses={200: ("已登录（设置会话 Cookie）", _obj({"user": _ref("User")})), 401: "用户名或密码错误",
                  403: "账号停用或 CSRF 校验失败", 423: "账号已锁定", 429: "尝试过于频繁"}),
    Op("post", f"{P}/logout", "坐席台：登录", "退出登录", security="console", responses={200: "已退出"}),
    Op("get", f"{P}/me", "坐席台：登录", "当前用户与网络热线班次", security="console",
       responses={200: ("当前用户", _obj({"user": _ref("User"), "shift": {"type": "object"}}))}),
    Op("post", f"{P}/me/shift", "坐席台：登录", "切换自己的上班状态（影响轮流自动分配）",
       body=_body(on_shift=B), security="console", responses={200: "已更新"}),
    Op("get", f"{P}/directory", "坐席台：登录", "代码表：部门、区域、诉求类型、渠道、转办对象", security="console",
       responses={200: "代码表"}),
    # --- console: queue -----------------------------------------------------------------------
    Op("get", f"{P}/tickets", "坐席台：队列", "工单队列与搜索",
       "默认列出待审核工单：紧急的在前（新的在前），其余按等待时间（久的在前）。q 搜索工单号、电话或内容，"
       "搜索时默认覆盖所有状态，按时间倒序。",
       query=(("q", "工单号 / 电话 / 内容关键词"), ("status", "pending_review（默认）、open、all 或某个状态"),
              ("channel", "渠道代码"), ("department", "部门代码"), ("region", "区域代码"),
              ("request_type", "诉求类型代码"), ("assignee", "处理人用户名，none 表示未认领"),
              ("urgent", "true / false"), ("limit", "每页条数（≤200）"), ("offset", "偏移")),
       security="console",
       responses={200: ("工单列表", _obj({"tickets": {"type": "array", "items": _ref("TicketSummary")},
                                          "total": {"type": "integer", "nullable": True}, "limit": I,
                                          "offset": I, "search": B}))}),
    Op("get", f"{P}/queue/counts", "坐席台：队列", "待审核、紧急、未认领数量", security="console",
       responses={200: ("数量", _obj({"pending": I, "urgent": I, "unclaimed": I}))}),
    Op("post", f"{P}/tickets", "坐席台：工单", "人工录入工单（电话 / 来信）",
       "JSON，或 multipart/form-data（同名字段，扫描件放在 attachments 字段，可多个）。录入人自动成为处理人。",
       body=_ref("ManualIntake"), security="console",
       responses={201: ("已创建", _obj({"ticket": _ref("TicketSummary")})), 400: "参数错误"}),
    Op("get", N, "坐席台：工单", "工单详情：对话、机器预分类与确认值、处理记录", security="console",
       responses={200: TICKET, 404: "未找到"}),
    Op("post", N + "/claim", "坐席台：工单", "认领（我来处理）",
       "原子操作（UPDATE … WHERE assignee IS NULL）：两名坐席同时认领只有一人成功，另一人得到 409。",
       security="console", responses={200: TICKET, 409: "已被他人认领或已办结"}),
    Op("post", N + "/release", "坐席台：工单", "释放回公共队列", security="console", responses={200: TICKET}),
    Op("post", N + "/assign", "坐席台：工单", "改派（班长）", body=_body(username=SN), security="console",
       responses={200: TICKET, 400: "没有该坐席"}),
    Op("post", N + "/reveal", "坐席台：工单", "查看完整联系方式（记入审计日志）",
       "仅限正在处理该工单的坐席和班长。", security="console",
       responses={200: ("联系方式", _obj({"contact": {"type": "object"}})), 403: "无权查看"}),
    Op("post", N + "/classification", "坐席台：工单", "确认 / 更正分类",
       "不带字段或字段不变即为确认；更正记录修改人和前后值，并为管理员生成训练建议。尚未认领时自动认领。",
       body=_ref("Classification"), security="console",
       responses={200: TICKET, 400: "代码无效", 409: "他人正在处理"}),
    Op("post", N + "/reply", "坐席台：工单", "答复群众（经群众使用的渠道发送）",
       "先保存为“未发出”，再经渠道发送：网页会话实时推送；微信客服消息（超过 48 小时窗口返回 45015）；"
       "邮件（未配置发信服务器时保留在待发件箱）；电话 / 来信需人工回复。",
       body=_body(text=S, mark_answered=B), security="console",
       responses={200: ("工单与发送结果", _obj({"ticket": _ref("TicketDetail"),
                                               "delivery": _obj({"entry_id": I, "status": S, "detail": SN})})),
                  409: "他人正在处理"}),
    Op("post", N + "/entries/{entry_id}/retry", "坐席台：工单", "重新发送未发出的答复", security="console",
       responses={200: "发送结果", 409: "已发送"}),
    Op("post", N + "/notes", "坐席台：工单", "添加内部备注（群众不可见）", body=_body(text=S), security="console",
       responses={200: TICKET}),
    Op("post", N + "/merge", "坐席台：工单", "合并重复件", body=_body(into=S), security="console",
       responses={200: TICKET, 409: "状态不允许"}),
    Op("post", N + "/answer", "坐席台：工单", "标记已答复（直接办结）", body=_body(note=S), security="console",
       responses={200: TICKET, 409: "状态不允许"}),
    Op("post", N + "/close", "坐席台：工单", "办结", body=_body(note=S), security="console",
       responses={200: TICKET, 409: "状态不允许"}),
    Op("post", N + "/reopen", "坐席台：工单", "重新打开（回到待审核队列）", body=_body(reason=S), security="console",
       responses={200: TICKET, 409: "状态不允许"}),
    Op("post", N + "/dispatch", "坐席台：工单", "转办到部门或县（市、区）远端坐席",
       "办理时限按诉求类型以工作日计算（含调休）；全国平台下发的时限优先。状态变为 dispatched。",
       body=_body(target_kind={"type": "string", "enum": ["department", "region"]}, target=S, note=S),
       security="console", responses={200: TICKET, 400: "转办对象无效或缺少诉求类型", 409: "状态不允许"}),
    Op("get", f"{P}/canned-replies", "坐席台：常用语", "常用语（我的、公共、FAQ 答案）", security="console",
       responses={200: "列表"}),
    Op("post", f"{P}/canned-replies", "坐席台：常用语", "新增常用语（公共常用语仅班长）",
       body=_body(title=S, text=S, shared=B), security="console", responses={201: "已保存"}),
    Op("delete", f"{P}/canned-replies/{{reply_id}}", "坐席台：常用语", "删除常用语", security="console",
       responses={200: "已删除", 404: "没有这条"}),
    # --- console: supervisors -----------------------------------------------------------------------
    Op("get", f"{P}/stats", "坐席台：班长", "坐席统计：处理量、首次答复用时中位数、被他人更正、被重新打开",
       query=(("days", "统计最近多少天（默认 30）"),), security="console",
       responses={200: ("统计", _obj({"days": I, "operators": {"type": "array", "items": _ref("OperatorStats")}}))}),
    Op("get", f"{P}/operators", "坐席台：班长", "坐席列表", security="console", responses={200: "列表"}),
    Op("post", f"{P}/operators/{{username}}/shift", "坐席台：班长", "设置坐席上班状态", body=_body(on_shift=B),
       security="console", responses={200: "已更新"}),
    Op("get", f"{P}/auto-assign", "坐席台：班长", "轮流自动分配是否开启", security="console",
       responses={200: ("状态", _obj({"enabled": B}))}),
    Op("post", f"{P}/auto-assign", "坐席台：班长", "开启 / 关闭轮流自动分配", body=_body(enabled=B),
       security="console", responses={200: ("状态", _obj({"enabled": B, "assigned_now": I}))}),
    Op("get", f"{P}/audit", "坐席台：班长", "审计日志（查看联系方式、越权处理、改派、账号变更）",
       query=(("action", "操作类型"), ("actor", "操作人")), security="console", responses={200: "记录"}),
    # --- console: admins ------------------------------------------------------------------------------
    Op("get", f"{P}/users", "坐席台：管理员", "账号列表", security="console", responses={200: "列表"}),
    Op("post", f"{P}/users", "坐席台：管理员", "创建账号", body=_body(username=S, role=S, password=S, display_name=S),
       security="console", responses={201: ("已创建", _obj({"user": _ref("User")})), 400: "参数错误"}),
    Op("post", f"{P}/users/{{username}}", "坐席台：管理员", "修改账号（角色、停用、重置密码、解锁）",
       body=_body(role=S, display_name=S, active=B, password=S, unlock=B), security="console",
       responses={200: "已更新", 404: "没有这个账号"}),
    Op("get", f"{P}/training-suggestions", "坐席台：管理员", "训练建议（坐席对机器分类的更正）",
       query=(("status", "new（默认）、accepted、rejected、all"),), security="console",
       responses={200: ("列表", _obj({"training_suggestions": {"type": "array",
                                                               "items": _ref("TrainingSuggestion")}}))}),
    Op("post", f"{P}/training-suggestions/{{suggestion_id}}", "坐席台：管理员", "采纳 / 驳回训练建议",
       body=_body(status={"type": "string", "enum": ["accepted", "rejected", "new"]}), security="console",
       responses={200: "已更新"}),
]

SECURITY = {
    "console": [{"consoleSession": [], "csrfHeader": []}],
    "admin_token": [{"adminToken": []}, {"consoleSession": [], "csrfHeader": []}],
}


def _canonical(path: str) -> str:
    """aiohttp's ``{name:regex}`` → OpenAPI's ``{name}``."""
    return re.sub(r"\{([^}:]+):[^}]+\}", r"{\1}", path)


def _documented_path(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/metrics") or path.startswith("/wechat")


def build_document(app: web.Application) -> dict[str, Any]:
    handlers: dict[tuple[str, str], Any] = {}
    for route in all_routes(app):
        info = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "OPTIONS", "*") or not _documented_path(info):
            continue
        handlers[(route.method.lower(), _canonical(info))] = route.handler

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        item: dict[str, Any] = {"tags": [op.tag], "summary": op.summary, "operationId": _op_id(op)}
        if op.description:
            item["description"] = op.description
        params = [{"name": n, "in": "path", "required": True, "schema": S} for n in re.findall(r"\{(\w+)\}", op.path)]
        params += [{"name": n, "in": "query", "required": False, "description": d, "schema": S} for n, d in op.query]
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {op.body_type: {"schema": op.body}}}
        item["responses"] = {}
        for status, desc in (op.responses or {200: "成功"}).items():
            if isinstance(desc, tuple):
                item["responses"][str(status)] = {"description": desc[0],
                                                  "content": {"application/json": {"schema": desc[1]}}}
            else:
                item["responses"][str(status)] = {"description": desc}
        if op.security:
            item["security"] = SECURITY[op.security]
            if op.security == "console":
                item["responses"].setdefault("401", {"description": "未登录"})
                item["responses"].setdefault("403", {"description": "角色无权或 CSRF 校验失败"})
        for status in [s for s in item["responses"] if s.startswith(("4", "5"))]:
            resp = item["responses"][status]
            resp.setdefault("content", {"application/json": {"schema": _ref("Error")}})
        handler = handlers.get((op.method, op.path))
        roles = roles_of(handler) if handler is not None else None
        if roles:
            item["x-roles"] = sorted(roles)
        if handler is None:
            item["x-unavailable"] = "此部署未启用该接口"
        paths.setdefault(op.path, {})[op.method] = item

    for (method, path), handler in sorted(handlers.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if method in paths.get(path, {}):
            continue
        summary = (handler.__doc__ or "").strip().splitlines()[0] if handler.__doc__ else path
        item = {"tags": ["其他"], "summary": summary,
                "responses": {"200": {"description": "成功"}}, "x-undocumented": True,
                "parameters": [{"name": n, "in": "path", "required": True, "schema": S}
                               for n in re.findall(r"\{(\w+)\}", path)]}
        roles = roles_of(handler)
        if roles:
            item["x-roles"] = sorted(roles)
        paths.setdefault(path, {})[method] = item

    return {
        "openapi": "3.0.3",
        "info": {"title": "平顶山12345政务服务热线 受理网关 API", "version": "1.0.0",
                 "description": "群众渠道接口、办件查询、NLU，以及网络热线坐席台的全部操作。坐席台接口使用登录会话"
                                "（Cookie）和 X-CSRF-Token 请求头；错误统一为 {\"error\": {\"code\", \"message\"}}。"},
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "consoleSession": {"type": "apiKey", "in": "cookie", "name": "hotline_console",
                                   "description": "POST /api/v1/console/login 设置的会话 Cookie"},
                "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                               "description": "GET /api/v1/console/csrf 取得；非 GET 请求必带"},
                "adminToken": {"type": "http", "scheme": "bearer", "description": "HOTLINE_ADMIN_TOKEN"},
            },
        },
    }


def _op_id(op: Op) -> str:
    words = re.sub(r"[{}]", "", op.path.removeprefix("/api/v1/")).replace("-", "_").split("/")
    return op.method + "_" + "_".join(w for w in words if w)


def document(app: web.Application) -> dict[str, Any]:
    return app[DOC_KEY]


async def _build_on_startup(app: web.Application) -> None:
    # At start-up every module has registered its routes, and the app is still ours to change.
    app[DOC_KEY] = build_document(app)


async def openapi_json(request: web.Request) -> web.Response:
    response = json_response(document(request.config_dict))
    response.headers["Access-Control-Allow-Origin"] = "*"  # a public description, no credentials
    return response


def _schema_text(schema: Any) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2)


async def docs_page(request: web.Request) -> web.Response:
    doc = document(request.config_dict)
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, methods in doc["paths"].items():
        for method, item in methods.items():
            body = item.get("requestBody", {}).get("content", {})
            body_schema = next(iter(body.values()), {}).get("schema") if body else None
            groups.setdefault(item["tags"][0], []).append({
                "method": method.upper(), "path": path, "summary": item.get("summary", ""),
                "description": item.get("description", ""), "parameters": item.get("parameters", []),
                "body": _schema_text(body_schema) if body_schema else None,
                "responses": [(code, r.get("description", "")) for code, r in item["responses"].items()],
                "roles": [ROLE_LABELS.get(r, r) for r in item.get("x-roles", [])],
                "security": bool(item.get("security")), "undocumented": item.get("x-undocumented", False),
                "unavailable": item.get("x-unavailable"), "id": item.get("operationId", ""),
            })
    order = [t["name"] for t in doc["tags"]] + sorted(set(groups) - {t["name"] for t in doc["tags"]})
    context = {"doc": doc, "groups": [(tag, groups[tag]) for tag in order if tag in groups],
               "schemas": [(name, _schema_text(s)) for name, s in doc["components"]["schemas"].items()]}
    return aiohttp_jinja2.render_template("console/api_docs.html", request, context)


def setup_openapi(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.on_startup.append(_build_on_startup)
