"""一事一评: the page a citizen's evaluation link opens (``/survey/{token}``), no login, and the
same as JSON (``/api/v1/surveys/{token}``).

The signed token is the citizen's only credential.  A forged, used or expired link gets a clear
page and changes nothing: the token is checked before any write, and again under the ticket's row
lock, so two submissions of one link (two tabs, a double tap) record one evaluation.  The form
carries the signed double-submit CSRF token like every citizen form; POSTs are rate-limited per
client before anything is read.  After the commit: the consoles (and, for a 重办, the unit's
desks) are told live, and a national-platform item gets the evaluation written back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from gateway.channels.survey_links import announce_evaluation, report_evaluation_to_platform
from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.resources import DIRECTORY, KEYS, REDIS, SECRET, SESSIONS
from gateway.web.citizen import present
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.present import local
from gateway.web.security import check_csrf
from gateway.web.validation import RequestModel, read_model
from ticketing.db.models.tickets import Ticket
from ticketing.db.models.workflow import Survey, UnitReport
from ticketing.errors import ConsoleError
from ticketing.tickets import claims
from ticketing.workflow import surveys
from ticketing.workflow.surveys import MAX_COMMENT, SATISFACTION_LABELS, SurveyLinkError

routes = web.RouteTableDef()
documented = tagged("群众：一事一评")

PAGE = "/survey/{token}"
API = "/api/v1/surveys/{token}"
LINK_STATUS = {"invalid": 404, "expired": 410, "used": 409, "closed": 409}
LINK_TITLES = {"invalid": "评价链接无效", "expired": "评价链接已过期", "used": "您已评价过", "closed": "无需再评价"}
TOO_MANY = "提交过于频繁，请稍后再试。如需帮助，请拨打 12345。"
BUSY = "系统繁忙，评价暂时无法提交，请稍后重试。"
NEXT_STEP = {
    "closed": ("您的诉求已办结", "感谢您的评价！您反映的问题已办结归档。如有新的问题，欢迎随时通过12345反映。"),
    "redo": ("已转回承办单位重新办理",
             "感谢您的反馈。您的工单已转回承办单位重新办理，办理结果将通过原渠道再次告知您，届时请您再次评价。"),
}
THANKS = ("感谢您的评价", "您的评价已记录。")


@dataclass(frozen=True)
class SurveyGuard:
    per_client: int = 10  # evaluations (valid or not) per client address and window
    window: int = 600


GUARD = SurveyGuard()


# --------------------------------------------------------------------------- reading

async def _survey_view(session, directory, survey: Survey) -> dict[str, Any]:
    ticket = await session.get(Ticket, survey.ticket_id)
    assert ticket is not None
    report = await session.get(UnitReport, survey.report_id) if survey.report_id else None
    unit = directory.unit(survey.unit) if survey.unit else None
    return {"ticket_no": ticket.number, "unit_name": unit.name if unit else "平顶山市12345政务服务便民热线",
            "answer": report.text if report else None, "expires_at": survey.expires_at}


def _render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    ctx = {"page": "", "emergency": present.emergency_numbers(request.config_dict[DIRECTORY]), **context}
    response = aiohttp_jinja2.render_template(f"citizen/{template}", request, ctx, status=status)
    # The page holds a capability (the link) and a CSRF token: never in a shared cache, and no
    # Referer carrying the token to another site.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _refused(request: web.Request, kind: str, message: str) -> web.Response:
    return _render(request, "survey_refused.html", {"title": LINK_TITLES[kind], "message": message, "kind": kind},
                   status=LINK_STATUS[kind])


def _form(request: web.Request, view: dict[str, Any], *, values: dict[str, str] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> web.Response:
    return _render(request, "survey.html", {
        **view, "token": request.match_info["token"], "values": values or {}, "errors": errors or {},
        "satisfaction_options": list(SATISFACTION_LABELS.items()), "max_comment": MAX_COMMENT,
        "expires_on": local(view["expires_at"], "%Y年%m月%d日 %H:%M")}, status=status)


@routes.get(PAGE)
async def survey_page(request: web.Request) -> web.Response:
    app = request.config_dict
    async with app[SESSIONS]() as session:
        try:
            survey = await surveys.survey_for_token(session, app[SECRET], request.match_info["token"])
        except SurveyLinkError as exc:
            return _refused(request, exc.kind, exc.message)
        view = await _survey_view(session, app[DIRECTORY], survey)
    return _form(request, view)


# --------------------------------------------------------------------------- answering

@dataclass(frozen=True)
class Answered:
    ticket_no: str
    outcome: str | None


async def evaluate(config, token: str, *, solved: object, satisfaction: object, comment: object) -> Answered:
    """Record the citizen's evaluation in one transaction under the ticket's lock; then the live
    notices and the national write-back.  SurveyLinkError / ConsoleError when refused (nothing written)."""
    async with config[SESSIONS]() as session:
        async with session.begin():
            survey = await surveys.survey_for_token(session, config[SECRET], token)
            ticket = await session.get(Ticket, survey.ticket_id)
            assert ticket is not None
            ticket = await claims.lock_ticket(session, ticket)
            # Another submission of this link may have committed while we waited for the lock.
            await session.refresh(survey)
            survey = await surveys.survey_for_token(session, config[SECRET], token)
            await surveys.respond(session, survey, config[DIRECTORY], solved=solved, satisfaction=satisfaction,
                                  comment=comment, source="link")
        await announce_evaluation(config, ticket, survey, by="citizen")
        await report_evaluation_to_platform(config, session, ticket, survey)
        return Answered(ticket.number, survey.outcome)


async def _allowed(request: web.Request, guard: SurveyGuard = GUARD) -> bool:
    app = request.config_dict
    limiter = RateLimiter(app[REDIS], app[KEYS])
    return await limiter.allow("survey", client_address(request), guard.per_client, guard.window)


def _solved(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


@routes.post(PAGE)
async def survey_submit(request: web.Request) -> web.StreamResponse:
    app = request.config_dict
    token = request.match_info["token"]
    try:
        # Counted before anything is read or checked: guessing links costs the same as answering.
        if not await _allowed(request):
            return _render(request, "survey_refused.html", {"title": "提交过于频繁", "message": TOO_MANY,
                                                            "kind": "limited"}, status=429)
    except (RedisError, OSError):
        return _render(request, "survey_refused.html", {"title": "系统繁忙", "message": BUSY, "kind": "busy"},
                       status=503)
    form = await request.post()
    try:
        await check_csrf(request)
    except web.HTTPForbidden:
        return _render(request, "survey_refused.html", {
            "title": "页面已过期", "kind": "csrf",
            "message": "页面已过期或来源无法验证，请重新打开评价链接后再提交。"}, status=403)
    values = {key: str(form.get(key, "")) for key in ("solved", "satisfaction", "comment")}
    try:
        await evaluate(app, token, solved=_solved(values["solved"]),
                                  satisfaction=values["satisfaction"] or None, comment=values["comment"])
    except SurveyLinkError as exc:
        return _refused(request, exc.kind, exc.message)
    except ConsoleError as exc:
        if exc.status == 409:
            return _refused(request, "used", exc.message)
        field = {"solved_required": "solved", "satisfaction_required": "satisfaction"}.get(exc.code, "comment")
        async with app[SESSIONS]() as session:
            survey = await surveys.survey_for_token(session, app[SECRET], token)
            view = await _survey_view(session, app[DIRECTORY], survey)
        return _form(request, view, values=values, errors={field: exc.message}, status=400)
    raise web.HTTPSeeOther(f"/survey/{token}/done")


@routes.get(PAGE + "/done")
async def survey_done(request: web.Request) -> web.Response:
    """The thank-you page: what happens next.  Shown for a genuine link only."""
    app = request.config_dict
    async with app[SESSIONS]() as session:
        survey = await surveys.signed_survey(session, app[SECRET], request.match_info["token"])
        if survey is None:
            return _refused(request, "invalid", "评价链接无效，请使用我们发给您的完整链接")
        if survey.responded_at is None:
            raise web.HTTPSeeOther(f"/survey/{request.match_info['token']}")
        ticket = await session.get(Ticket, survey.ticket_id)
        assert ticket is not None
    title, message = NEXT_STEP.get(survey.outcome or "", THANKS)
    return _render(request, "survey_done.html", {"title": title, "message": message, "ticket_no": ticket.number,
                                                 "outcome": survey.outcome or "kept"})


# --------------------------------------------------------------------------- JSON

class SurveyAnswer(RequestModel):
    solved: bool | None = Field(None, description="问题是否已解决")
    satisfaction: Literal["satisfied", "basic", "unsatisfied"] | None = Field(
        None, description="satisfied 满意 / basic 基本满意 / unsatisfied 不满意")
    comment: str | None = Field(None, description=f"意见（可选，不超过 {MAX_COMMENT} 字）")
    refusals: ClassVar[dict[str, tuple[int, str, str]]] = {
        "solved": (400, "solved_required", "请选择问题是否已解决"),
        "satisfaction": (400, "satisfaction_required", "请选择满意程度：满意、基本满意或不满意"),
        "comment": (400, "invalid_comment", "意见须为文字")}


class SurveyInfo(BaseModel):
    ticket_no: str
    unit_name: str
    answer: str | None
    expires_at: str


class SurveyResult(BaseModel):
    ticket_no: str
    outcome: str = Field(description="closed 已办结 / redo 已转回承办单位重新办理 / kept 已记录")
    message: str


def _api_error(exc: SurveyLinkError) -> ApiError:
    return ApiError(LINK_STATUS[exc.kind], f"survey_{exc.kind}", exc.message)


@routes.get(API)
@documented("打开评价链接：工单号、承办单位和答复",
            description="链接无效 404，已过期 410，已评价或已有结果 409。",
            responses={200: ("待评价的答复", SurveyInfo), 404: "链接无效", 409: "已评价", 410: "链接已过期"})
async def survey_info(request: web.Request) -> web.Response:
    app = request.config_dict
    async with app[SESSIONS]() as session:
        try:
            survey = await surveys.survey_for_token(session, app[SECRET], request.match_info["token"])
        except SurveyLinkError as exc:
            raise _api_error(exc) from None
        view = await _survey_view(session, app[DIRECTORY], survey)
    return json_response({**view, "expires_at": view["expires_at"].isoformat()})


@routes.post(API)
@documented("提交一事一评", body=SurveyAnswer,
            description="无需登录，链接本身即凭证（一次有效）。按客户端地址限流（429）。"
                        "未解决或不满意的工单转回承办单位重新办理。",
            responses={200: ("已评价", SurveyResult), 404: "链接无效", 409: "已评价", 410: "链接已过期",
                       429: "提交过于频繁"})
async def survey_api(request: web.Request) -> web.Response:
    try:
        if not await _allowed(request):
            raise ApiError(429, "rate_limited", TOO_MANY)
    except (RedisError, OSError):
        raise ApiError(503, "unavailable", BUSY) from None
    if request.content_type != "application/json":
        # JSON only: a cross-site HTML form cannot send it, so no CSRF token is needed here.
        raise ApiError(415, "json_required", "请以 application/json 提交")
    body = await read_model(request, SurveyAnswer)
    try:
        answered = await evaluate(request.config_dict, request.match_info["token"], solved=body.solved,
                                  satisfaction=body.satisfaction, comment=body.comment)
    except SurveyLinkError as exc:
        raise _api_error(exc) from None
    except ConsoleError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    outcome = answered.outcome or "kept"
    return json_response({"ticket_no": answered.ticket_no, "outcome": outcome,
                          "message": NEXT_STEP.get(outcome, THANKS)[1]})
