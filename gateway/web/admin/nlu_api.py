"""JSON API of the NLU administration under /api/v1/admin/nlu (role admin; CSRF on every change)."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web

from gateway.infra.resources import DIRECTORY, NLU, SESSIONS
from gateway.web.admin import activation, active_evaluation, evaluation, jobs, models
from gateway.web.admin.intent_names import intent_labels
from gateway.web.admin.job_view import job_dict, job_state
from gateway.web.admin.state import bump_answers, guard_margin
from gateway.web.admin.workspace import admin_api, export_single, parse_uploads
from gateway.web.auth import actor_of
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.validation import RequestModel, path_id, read_model
from nlu import training
from nlu.yaml_io import NluYamlError
from ticketing.db.models.nlu import NluModel
from ticketing.nlu_workspace import answers, intents, registry
from ticketing.nlu_workspace import jobs as nlu_workspace_jobs
from ticketing.nlu_workspace.intents import IntentSummary

routes = web.RouteTableDef()
P = "/api/v1/admin/nlu"
MAX_IMPORT_BYTES = 4 * 1024 * 1024  # every admin body may be an import's size
Body = TypeVar("Body", bound=RequestModel)
doc = tagged("管理员：智能客服训练")
CHANGED = {200: "成功", 409: "冲突"}


async def _body(request: web.Request, model: type[Body]) -> Body:
    return await read_model(request, model, max_bytes=MAX_IMPORT_BYTES)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def intent_dict(i: IntentSummary) -> dict[str, Any]:
    return {"name": i.name, "kind": i.kind, "examples": i.examples, "updated_at": _iso(i.updated_at),
            "updated_by": i.updated_by, "has_answer": i.has_answer}


def model_dict(m: NluModel, *, full: bool = False) -> dict[str, Any]:
    out = {"version": m.version, "name": m.name, "data_hash": m.data_hash, "status": m.status, "epochs": m.epochs,
           "trained_by": m.trained_by, "trained_at": _iso(m.trained_at), "train_seconds": m.train_seconds,
           "activated_at": _iso(m.activated_at), "activated_by": m.activated_by, "note": m.note,
           "summary": evaluation.summary(m.metrics)}
    if full:
        out["metrics"] = m.metrics
    return out


# --------------------------------------------------------------------------- intents, examples, answers

@routes.get(f"{P}/intents")
@doc("意图列表（例句数、最后修改时间和修改人）")
@admin_api
async def list_intents(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await intents.intents_overview(session)
        labels = intent_labels([i.name for i in rows], request.config_dict[DIRECTORY], await answers.answers(session))
    return json_response({"intents": [{**intent_dict(i), "label": labels.get(i.name)} for i in rows]})


@routes.post(f"{P}/intents")
@doc("新建意图（新的 FAQ 主题须同时给出答复）", body=models.NewIntent, responses={201: "已创建", 409: "意图已存在"})
@admin_api
async def create_intent(request: web.Request) -> web.Response:
    body = await _body(request, models.NewIntent)
    actor = actor_of(request).username
    async with request.config_dict[SESSIONS]() as session, session.begin():
        intent = await intents.create_intent(session, body.name, actor=actor, examples=body.examples,
                                             answer=body.answer)
        name = intent.name
    if body.answer:
        await bump_answers(request.config_dict)
    return json_response({"name": name}, status=201)


@routes.delete(f"{P}/intents")
@doc("删除意图及其例句", query={"name": "意图名"})
@admin_api
async def delete_intent(request: web.Request) -> web.Response:
    name = request.query.get("name", "")
    async with request.config_dict[SESSIONS]() as session, session.begin():
        await intents.delete_intent(session, name, actor=actor_of(request).username)
    return json_response({"deleted": name})


@routes.get(f"{P}/examples")
@doc("某个意图的例句", query={"intent": "意图名"})
@admin_api
async def list_examples(request: web.Request) -> web.Response:
    name = request.query.get("intent", "")
    async with request.config_dict[SESSIONS]() as session:
        rows = await intents.examples_of(session, name)
    return json_response({"intent": name, "examples": [
        {"id": e.id, "text": e.text, "source": e.source, "created_by": e.created_by,
         "created_at": _iso(e.created_at)} for e in rows]})


@routes.post(f"{P}/examples")
@doc("添加例句（重复的跳过）", body=models.NewExamples, responses={201: "已添加"})
@admin_api
async def add_examples(request: web.Request) -> web.Response:
    body = await _body(request, models.NewExamples)
    texts = body.all_texts()
    if texts is None:
        raise ApiError(400, "invalid_body", "texts 必须是列表")
    async with request.config_dict[SESSIONS]() as session, session.begin():
        added = await intents.add_examples(session, body.intent, texts, actor=actor_of(request).username)
    return json_response({"added": added, "skipped": len(texts) - added}, status=201)


@routes.put(r"/api/v1/admin/nlu/examples/{example_id:\d+}")
@doc("修改例句", body=models.ExampleEdit)
@admin_api
async def edit_example(request: web.Request) -> web.Response:
    body = await _body(request, models.ExampleEdit)
    async with request.config_dict[SESSIONS]() as session, session.begin():
        row = await intents.update_example(session, path_id(request, "example_id"), body.text,
                                      actor=actor_of(request).username)
    return json_response({"id": row.id, "text": row.text})


@routes.delete(r"/api/v1/admin/nlu/examples/{example_id:\d+}")
@doc("删除例句")
@admin_api
async def delete_example(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session, session.begin():
        intent = await intents.delete_example(session, path_id(request, "example_id"), actor=actor_of(request).username)
    return json_response({"deleted": path_id(request, "example_id"), "intent": intent})


@routes.get(f"{P}/answers")
@doc("答复文本（按键）")
@admin_api
async def list_answers(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await answers.answer_rows(session)
    return json_response({"answers": [{"key": a.key, "text": a.text, "updated_at": _iso(a.updated_at),
                                       "updated_by": a.updated_by} for a in rows]})


@routes.put(f"{P}/answers")
@doc("修改或新增答复（立即生效，无需重新训练）", body=models.AnswerEdit)
@admin_api
async def put_answer(request: web.Request) -> web.Response:
    body = await _body(request, models.AnswerEdit)
    async with request.config_dict[SESSIONS]() as session, session.begin():
        row = await answers.set_answer(session, body.key, body.text, actor=actor_of(request).username)
        key = row.key
    await bump_answers(request.config_dict)
    return json_response({"key": key, "answer": request.config_dict[NLU].answer_for(key)})


# --------------------------------------------------------------------------- export / import

@routes.get(f"{P}/export")
@doc("导出工作副本为 Rasa NLU YAML", responses={200: "application/x-yaml"})
@admin_api
async def export(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        text = await export_single(session)
    return web.Response(text=text, content_type="application/x-yaml", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="nlu.yml"'})


async def _uploaded_files(request: web.Request) -> tuple[list[tuple[str, str]], bool]:
    if request.content_type == "application/json":
        body = await _body(request, models.YamlImport)
        return [(f.name or f"file{i + 1}.yml", f.text) for i, f in enumerate(body.files)], body.replace
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "请上传 YAML 文件（multipart/form-data）或提交 JSON")
    reader = await request.multipart()
    files, replace, total = [], False, 0
    async for part in reader:
        if part.name == "replace":
            replace = (await part.text()).strip() in ("1", "true", "on")
            continue
        if part.name != "files" or not part.filename:
            continue
        raw = await part.read()
        total += len(raw)
        if total > MAX_IMPORT_BYTES:
            raise ApiError(413, "payload_too_large", "上传的文件过大")
        try:
            files.append((part.filename, raw.decode("utf-8")))
        except UnicodeDecodeError:
            raise ApiError(400, "bad_encoding", f"{part.filename}: 文件必须是 UTF-8 编码") from None
    if not files:
        raise ApiError(400, "no_files", "请选择要导入的 YAML 文件")
    return files, replace


@routes.post(f"{P}/import")
@doc("导入 Rasa NLU YAML（multipart 文件 files，或 JSON {files:[{name,text}]}）；有错误整体拒绝并给出文件、行号和原因", body=models.YamlImport, responses={200: "已导入", 413: "文件过大", 415: "格式不支持"})
@admin_api
async def import_yaml(request: web.Request) -> web.Response:
    files, replace = await _uploaded_files(request)
    try:
        blocks = parse_uploads(files)
    except NluYamlError as exc:
        raise ApiError(400, "invalid_yaml", str(exc), file=exc.source, line=exc.line, reason=exc.reason) from None
    async with request.config_dict[SESSIONS]() as session, session.begin():
        result = await intents.import_blocks(session, blocks, actor=actor_of(request).username, replace_intents=replace)
    return json_response({"imported": result, "files": [name for name, _ in files]})


# --------------------------------------------------------------------------- training

@routes.post(f"{P}/train")
@doc("开始训练（后台任务，同一时间一个）", body=models.TrainRequest, responses={202: "已开始", 409: "已有训练在运行"})
@admin_api
async def train(request: web.Request) -> web.Response:
    body = await _body(request, models.TrainRequest)
    job_id = await jobs.start_training(request.config_dict, actor_of(request).username, body.epochs)
    return json_response({"job_id": job_id}, status=202)


@routes.get(f"{P}/jobs")
@doc("训练任务列表")
@admin_api
async def list_jobs(request: web.Request) -> web.Response:
    await jobs.reap_orphans(request.config_dict)
    async with request.config_dict[SESSIONS]() as session:
        rows = await nlu_workspace_jobs.jobs(session)
    return json_response({"jobs": [job_dict(j, log=False) for j in rows],
                          "running": await jobs.running_job_id(request.config_dict),
                          "epochs_setting": training.epochs_setting()})


@routes.get(r"/api/v1/admin/nlu/jobs/{job_id:\d+}")
@doc("训练任务的进度、日志和失败原因", responses={200: "任务", 404: "没有该任务"})
@admin_api
async def get_job(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        job = await nlu_workspace_jobs.get_job(session, path_id(request, "job_id"))
        out = await job_state(session, job)
    return json_response(out)


@routes.post(r"/api/v1/admin/nlu/jobs/{job_id:\d+}/cancel")
@doc("取消训练", responses={202: "正在取消", 409: "已结束"})
@admin_api
async def cancel_job(request: web.Request) -> web.Response:
    job_id = path_id(request, "job_id")
    async with request.config_dict[SESSIONS]() as session:
        job = await nlu_workspace_jobs.get_job(session, job_id)
    if job.status != "running":
        state = job_dict(job, log=False)
        ended = {"succeeded": "已完成", "failed": "已失败", "cancelled": "已取消"}.get(job.status, "已结束")
        why = f"（{state['reason']}）" if job.status == "failed" and state["reason"] else ""
        raise ApiError(409, "not_running", f"训练任务 #{job_id} {ended}{why}，无需取消", job=state)
    await jobs.cancel(request.config_dict, job_id)
    return json_response({"job_id": job_id, "cancelling": True}, status=202)


# --------------------------------------------------------------------------- models

@routes.get(f"{P}/models")
@doc("模型登记表")
@admin_api
async def list_models(request: web.Request) -> web.Response:
    async with request.config_dict[SESSIONS]() as session:
        rows = await registry.models(session)
    return json_response({"models": [model_dict(m) for m in rows], "margin_points": guard_margin()})


@routes.get(r"/api/v1/admin/nlu/models/{version:\d+}")
@doc("模型评估结果（与当前模型对照）和启用检查", responses={200: "模型", 404: "没有该版本"})
@admin_api
async def get_model(request: web.Request) -> web.Response:
    config = request.config_dict
    row, active = await activation.load(config, path_id(request, "version"))
    return json_response({"model": model_dict(row, full=True),
                          "active": model_dict(active, full=True) if active is not None else None,
                          "check": activation.check(row, active),
                          "evaluation": {"running": await active_evaluation.evaluating(config),
                                         "error": await active_evaluation.last_error(config)}})


@routes.post(f"{P}/models/active/evaluate")
@doc("评估当前模型（在后台用留出集评估正在使用的模型，无需重新训练）",
     responses={202: "已开始评估", 409: "没有当前模型、没有 NLU 服务或正在评估"})
@admin_api
async def evaluate_active_model(request: web.Request) -> web.Response:
    config = request.config_dict
    async with config[SESSIONS]() as session:
        active = await registry.active_model(session)
    if active is None:
        raise ApiError(409, "no_active_model", "还没有正在使用的模型，无法评估")
    if not config[NLU].base_url:
        raise ApiError(409, "nlu_disabled", "没有可用的 NLU 服务，无法评估当前模型")
    if not await active_evaluation.start_evaluation(config):
        raise ApiError(409, "evaluation_running", "当前模型正在评估，请稍候查看结果")
    return json_response({"version": active.version, "evaluating": True}, status=202)


@routes.post(r"/api/v1/admin/nlu/models/{version:\d+}/activate")
@doc("启用模型（热切换不中断解析；回滚＝启用较早版本）；未通过检查须填写 override_reason（记入审计日志）", body=models.Activation, responses=CHANGED)
@admin_api
async def activate(request: web.Request) -> web.Response:
    body = await _body(request, models.Activation)
    result = await activation.activate(request.config_dict, path_id(request, "version"),
                                       actor=actor_of(request).username, override_reason=body.override_reason)
    return json_response(result)
