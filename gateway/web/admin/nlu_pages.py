"""Admin pages (Chinese) of the NLU administration under /admin/nlu.

The pages are rendered on the server; their buttons call the JSON API (static/nlu_admin/nlu_admin.js
sends the CSRF header), so every action has one implementation.
"""

from __future__ import annotations

from aiohttp import web

from gateway.infra.replies import REPLIES
from gateway.infra.resources import DIRECTORY, NLU, SESSIONS
from gateway.infra.sse import relay
from gateway.web.admin import activation, active_evaluation, evaluation, jobs
from gateway.web.admin.intent_names import intent_labels
from gateway.web.admin.job_view import JOB_EVENT, job_dict
from gateway.web.admin.state import NluAdminKeys, guard_margin
from gateway.web.admin.workspace import admin_page
from gateway.web.staff_pages import render
from gateway.web.validation import path_id
from nlu import training
from ticketing.nlu_workspace import answers as nlu_workspace_answers
from ticketing.nlu_workspace import intents as nlu_workspace_intents
from ticketing.nlu_workspace import jobs as nlu_workspace_jobs
from ticketing.nlu_workspace import registry, suggestions

routes = web.RouteTableDef()
KIND_LABELS = {"faq": "常见问题", "department": "承办部门", "emergency": "紧急求助", "hotline": "其他热线",
               "chitchat": "寒暄", "other": "其他"}
STATUS_LABELS = {"trained": "已训练", "evaluated": "已评估", "active": "使用中", "retired": "已停用",
                 "eval_failed": "评估失败"}
JOB_LABELS = {"running": "进行中", "succeeded": "完成", "failed": "失败", "cancelled": "已取消"}


def _ctx(section: str, **extra) -> dict:
    return {"nav": "nlu", "section": section, "kind_labels": KIND_LABELS, "status_labels_nlu": STATUS_LABELS,
            "job_labels": JOB_LABELS, **extra}


@routes.get("/admin/nlu")
@admin_page
async def intents_page(request: web.Request) -> web.Response:
    query = request.query.get("q", "").strip()[:100]
    async with request.config_dict[SESSIONS]() as session:
        intents = await nlu_workspace_intents.intents_overview(session)
        found = await nlu_workspace_intents.search_examples(session, query)
        labels = await _labels(request, session, [i.name for i in intents])
    return await render(request, "nlu_admin/intents.html", _ctx("intents", intents=intents, labels=labels,
                                                                 total=sum(i.examples for i in intents),
                                                                 query=query, found=found))


async def _labels(request: web.Request, session, names: list[str]) -> dict[str, str]:
    return intent_labels(names, request.config_dict[DIRECTORY], await nlu_workspace_answers.answers(session))


@routes.get("/admin/nlu/intent")
@admin_page
async def intent_page(request: web.Request) -> web.Response:
    name = request.query.get("name", "")
    async with request.config_dict[SESSIONS]() as session:
        intent = await nlu_workspace_intents.get_intent(session, name)
        examples = await nlu_workspace_intents.examples_of(session, name)
        answers = await nlu_workspace_answers.answers(session)
    label = intent_labels([name], request.config_dict[DIRECTORY], answers).get(name)
    # newest first on the page: an example just added shows right under the form that added it
    return await render(request, "nlu_admin/intent.html", _ctx(
        "intents", intent=intent, label=label, examples=examples[::-1], answer=answers.get(name),
        answerable=name in answers or name.startswith("faq/")))


@routes.get("/admin/nlu/answers")
@admin_page
async def answers_page(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await nlu_workspace_answers.answer_rows(session)
    return await render(request, "nlu_admin/answers.html", _ctx("answers", answers=rows))


@routes.get("/admin/nlu/training")
@admin_page
async def training_page(request: web.Request) -> web.Response:
    await jobs.reap_orphans(request.config_dict)
    async with request.config_dict[SESSIONS]() as session:
        rows = await nlu_workspace_jobs.jobs(session)
        corrections = len(await suggestions.accepted_request_types(session))
    running = await jobs.running_job_id(request.config_dict)
    return await render(request, "nlu_admin/training.html", _ctx(
        "training", jobs=rows, corrections=corrections, views={j.id: job_dict(j, log=False) for j in rows}, running=running, epochs_setting=training.epochs_setting(),
        config_epochs=training.config_epochs(training.config_text())))


@routes.get("/admin/nlu/jobs/events")
@admin_page
async def job_events(request: web.Request) -> web.StreamResponse:
    """The training jobs' state as it changes (server-sent events ``job``), as the console's queue is live."""
    config = request.config_dict
    return await relay(request, config[REPLIES].subscribe(NluAdminKeys.of(config).jobs_topic),
                       name=lambda event: JOB_EVENT)


@routes.get("/admin/nlu/models")
@admin_page
async def models_page(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await registry.models(session)
    return await render(request, "nlu_admin/models.html", _ctx(
        "models", models=rows, summaries={m.version: evaluation.summary(m.metrics) for m in rows},
        margin=guard_margin(), serving=request.config_dict[NLU].base_url))


@routes.get(r"/admin/nlu/models/{version:\d+}")
@admin_page
async def model_page(request: web.Request) -> web.Response:
    config = request.config_dict
    row, active = await activation.load(config, path_id(request, "version"))
    check = activation.check(row, active)
    metrics = row.metrics or {}
    active_metrics = (active.metrics or {}) if active is not None else {}
    intents = sorted(set(metrics.get("per_intent", {})) | set(active_metrics.get("per_intent", {})))
    async with config[SESSIONS]() as session:
        labels = await _labels(request, session, intents)
    return await render(request, "nlu_admin/model.html", _ctx(
        "models", model=row, active=active, metrics=metrics, active_metrics=active_metrics, check=check,
        per_intent_labels=intents, labels=labels, margin=guard_margin(),
        evaluating=await active_evaluation.evaluating(config), evaluation_error=await active_evaluation.last_error(config)))
