"""The working copy glue: seed it from the repository's files, export it as a Rasa project, import
Rasa YAML into it (the gateway is the only place that knows both nlu/ and ticketing/)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from gateway.infra.resources import NLU, SESSIONS
from gateway.web.admin.state import STATE
from gateway.web.audiences import Config
from gateway.web.auth import ADMINS, require_role
from gateway.web.errors import ApiError
from nlu import training, yaml_io
from nlu.client import ANSWERS_PATH
from ticketing.errors import WorkspaceError
from ticketing.nlu_workspace import intents, registry, suggestions
from ticketing.nlu_workspace.intents import Block

log = logging.getLogger(__name__)

INTENTS_FILE = "intents.yml"
RESOURCES_FILE = "resources.yml"
# The request-type model reads it from the directory Rasa trains in (nlu/request_type_model.py `corrections`).
CORRECTIONS_FILE = "request_types_corrections.tsv"


def _ws_blocks(blocks: list[yaml_io.Block]) -> list[Block]:
    return [Block(b.kind, b.name, tuple(b.examples)) for b in blocks]


async def ensure_seeded(config: Config) -> None:
    """Fill the working copy from nlu/data and nlu/faq_answers.yml on first use (idempotent; two
    processes racing: the unique intent names make the second one's insert fail and roll back). The
    model the NLU server serves right now becomes registry version 1, the active one."""
    state = config[STATE]
    if state.seeded:
        return
    async with state.seed_lock:
        if state.seeded:
            return
        blocks = _ws_blocks(yaml_io.read_nlu_dir(training.DATA_DIR))
        answers = yaml_io.read_answers(ANSWERS_PATH)
        try:
            async with config[SESSIONS]() as session, session.begin():
                if await intents.seed(session, blocks, answers):
                    log.info("NLU working copy seeded from %s", training.DATA_DIR)
                await _register_serving_model(config, session)
        except IntegrityError:
            pass  # another process seeded at the same time
        state.seeded = True


async def _register_serving_model(config: Config, session) -> None:
    if (await registry.models(session)):
        return
    name = await config[NLU].model_version()
    if not name:
        return
    path = training.model_cache_dir() / f"{name}.tar.gz"
    managed = config[STATE].managed
    if managed is not None and managed.model_path.name == f"{name}.tar.gz":
        path = managed.model_path
    info = training.training_info(path) if path.exists() else None
    hash_ = name.removeprefix(training.MODEL_PREFIX)
    row = await registry.register_model(session, name=name, data_hash=hash_, path=str(path), trained_by="system",
                                  train_seconds=(info or {}).get("train_seconds"), status="active",
                                  note="启用管理功能时正在使用的模型（由仓库 nlu/data 训练）")
    row.activated_by = "system"
    row.activated_at = row.trained_at


async def export_files(session) -> dict[str, str]:
    """The working copy as Rasa NLU YAML files (intents, then regexes/lookups/synonyms)."""
    blocks = await intents.export_blocks(session)
    return {
        INTENTS_FILE: yaml_io.dump_nlu_yaml([b for b in blocks if b.kind == "intent"],
                                            header="由 12345 管理后台的工作副本导出"),
        RESOURCES_FILE: yaml_io.dump_nlu_yaml([b for b in blocks if b.kind != "intent"],
                                              header="正则、查找表、同义词（由管理后台导出）"),
    }


async def export_labels(session) -> dict[str, str]:
    """The label files beside the Rasa data: the operators' request-type corrections an admin accepted."""
    pairs = await suggestions.accepted_request_types(session)
    if not pairs:
        return {}
    lines = ["# 坐席更正、管理员采纳的诉求类型（由管理后台导出）：类型<TAB>文本"]
    lines += [f"{kind}\t{' '.join(text.split())}" for text, kind in pairs]
    return {CORRECTIONS_FILE: "\n".join(lines) + "\n"}


async def export_single(session) -> str:
    return yaml_io.dump_nlu_yaml(await intents.export_blocks(session), header="12345 NLU training data (admin export)")


def write_project(root: Path, files: dict[str, str], epochs: int | None,
                  labels: dict[str, str] | None = None) -> tuple[Path, str]:
    nlu_dir = training.write_project(root, training.config_text(epochs), files, labels)
    return nlu_dir, training.data_hash(nlu_dir)


def parse_uploads(files: list[tuple[str, str]]) -> list[Block]:
    """Validate every uploaded file first (raises yaml_io.NluYamlError naming file and line)."""
    blocks: list[Block] = []
    for name, text in files:
        blocks += _ws_blocks(yaml_io.parse_nlu_yaml(text, name))
    return blocks


def admin_route(*, api: bool, on_error: Callable[[WorkspaceError], Exception]):
    """Admin only (+CSRF on changes), the working copy seeded first, service errors translated
    by ``on_error`` (a JSON error for the API, a page error for the pages)."""

    def decorate(handler):
        @functools.wraps(handler)
        async def inner(request: web.Request) -> web.StreamResponse:
            await ensure_seeded(request.config_dict)
            try:
                return await handler(request)
            except WorkspaceError as exc:
                raise on_error(exc) from None

        return require_role(*ADMINS, api=api)(inner)

    return decorate


# Admin JSON API: the service's refusal as the API's JSON error.  Admin pages: as a plain 404 page.
admin_api = admin_route(api=True, on_error=lambda exc: ApiError(exc.status, exc.code, exc.message))
admin_page = admin_route(api=False, on_error=lambda exc: web.HTTPNotFound(text=exc.message))
