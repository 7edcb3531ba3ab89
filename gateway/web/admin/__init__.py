"""Admins train the bot: intents & FAQ answers editor, training with progress, evaluation, safe activation.

Pages under ``/admin/nlu`` (role admin), the same actions as JSON under ``/api/v1/admin/nlu``; the
intake pipeline's operations API (``/api/v1/admin/…``); the training suggestions, also at their
console URLs.  One sub-app (:mod:`gateway.web.audiences`) with the console session; the NLU
follower runs for the sub-app's lifetime.

Settings (environment): ``HOTLINE_NLU_TRAIN_EPOCHS`` (epochs of DIET and the ResponseSelector for
admin trainings; default config.yml's 100), ``HOTLINE_NLU_GUARD_MARGIN`` (allowed drop against the
active model in percentage points, default 2), ``HOTLINE_NLU_SWAP_TIMEOUT`` (client timeout while an
external Rasa swaps its model, default 45 s).
"""

from __future__ import annotations

from aiohttp import web

from gateway.infra.resources import SETTINGS
from gateway.web import openapi
from gateway.web.admin import nlu_api, nlu_pages, operations, suggestions
from gateway.web.admin.nlu_api import P
from gateway.web.admin.state import STATE, ManagedRasa, NluAdminState, follower
from gateway.web.audiences import lifespan
from gateway.web.auth import use_sessions
from gateway.web.openapi import OPERATIONS, I, Op, S

__all__ = ["ManagedRasa", "create_admin_app"]


def create_admin_app(root: web.Application) -> web.Application:
    settings = root[SETTINGS]
    app = web.Application()
    app[STATE] = NluAdminState(configured_url=settings.rasa_url if settings.nlu_enabled else None,
                               base_timeout=settings.nlu_timeout)
    use_sessions(app, root)
    lifespan(app, root, follower)
    for module in (nlu_api, nlu_pages, suggestions, operations):
        app.router.add_routes(module.routes)
    _document()
    return app


def _document() -> None:
    """Describe the JSON API in the gateway's OpenAPI document (once per interpreter)."""

    if any(op.path.startswith(P) for op in OPERATIONS):
        return
    s, i = S, I
    tag = "管理员：智能客服训练"
    p = P
    ops = [
        ("get", f"{p}/intents", "意图列表（例句数、最后修改时间和修改人）", None, ()),
        ("post", f"{p}/intents", "新建意图（新的 FAQ 主题须同时给出答复）",
         openapi._body(name=s, examples={"type": "array", "items": s}, answer=s), ()),
        ("delete", f"{p}/intents", "删除意图及其例句", None, (("name", "意图名"),)),
        ("get", f"{p}/examples", "某个意图的例句", None, (("intent", "意图名"),)),
        ("post", f"{p}/examples", "添加例句（重复的跳过）", openapi._body(intent=s, texts={"type": "array", "items": s}), ()),
        ("put", f"{p}/examples/{{example_id}}", "修改例句", openapi._body(text=s), ()),
        ("delete", f"{p}/examples/{{example_id}}", "删除例句", None, ()),
        ("get", f"{p}/answers", "答复文本（按键）", None, ()),
        ("put", f"{p}/answers", "修改或新增答复（立即生效，无需重新训练）", openapi._body(key=s, text=s), ()),
        ("get", f"{p}/export", "导出工作副本为 Rasa NLU YAML", None, ()),
        ("post", f"{p}/import", "导入 Rasa NLU YAML（multipart 文件 files，或 JSON {files:[{name,text}]}）；"
         "有错误整体拒绝并给出文件、行号和原因", openapi._body(files={"type": "array", "items": openapi._body(name=s, text=s)}), ()),
        ("get", f"{p}/suggestions", "坐席更正形成的训练建议", None, (("status", "new | accepted | rejected | all"),)),
        ("post", f"{p}/suggestions/review", "批量采纳（可修改文本和意图）或驳回训练建议",
         openapi._body(decisions={"type": "array", "items": openapi._body(id=i, action=s, text=s, intent=s)}), ()),
        ("post", f"{p}/train", "开始训练（后台任务，同一时间一个）", openapi._body(epochs=i), ()),
        ("get", f"{p}/jobs", "训练任务列表", None, ()),
        ("get", f"{p}/jobs/{{job_id}}", "训练任务的进度、日志和失败原因", None, ()),
        ("post", f"{p}/jobs/{{job_id}}/cancel", "取消训练", None, ()),
        ("get", f"{p}/models", "模型登记表", None, ()),
        ("get", f"{p}/models/{{version}}", "模型评估结果（与当前模型对照）和启用检查", None, ()),
        ("post", f"{p}/models/{{version}}/activate", "启用模型（热切换不中断解析；回滚＝启用较早版本）；"
         "未通过检查须填写 override_reason（记入审计日志）", openapi._body(override_reason=s), ()),
    ]
    for method, path, summary, body, query in ops:
        OPERATIONS.append(Op(method, path, tag, summary, body=body, query=query,
                                   responses={200: "成功", 400: "参数错误", 409: "冲突"}, security="console"))
