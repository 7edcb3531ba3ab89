"""The admins' NLU working copy: intents, examples, FAQ answers, the non-intent training data
(regexes, lookup tables, synonyms), the model registry and the training jobs.

Seeded from the repository's `nlu/data/` and `nlu/faq_answers.yml` on first use (the gateway reads the
files and passes plain data: ticketing never imports the NLU package). Services take an AsyncSession
and plain arguments; the caller owns the transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.accounts import audit
from ticketing.console_services import TrainingSuggestion
from ticketing.errors import TicketingError
from ticketing.models import Base, BigId, utcnow

INTENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}(/[a-z][a-z0-9_]{0,62})?$")
RESOURCE_KINDS = ("regex", "lookup", "synonym")
MAX_EXAMPLE = 2000
SUGGESTION_INTENT_FIELDS = {"department": "dept_"}  # the only suggestion field that is a Rasa intent


class WorkspaceError(TicketingError):
    """A refused change; ``status`` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def intent_kind(name: str) -> str:
    if name.startswith("faq/"):
        return "faq"
    for prefix, kind in (("dept_", "department"), ("emergency_", "emergency"), ("hotline_", "hotline")):
        if name.startswith(prefix):
            return kind
    if name in ("greet", "thanks", "out_of_scope"):
        return "chitchat"
    return "other"


# --------------------------------------------------------------------------- models

class NluIntent(Base):
    __tablename__ = "nlu_intents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))


class NluExample(Base):
    __tablename__ = "nlu_examples"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("nlu_intents.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # seed | admin | import | suggestion
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))


class NluAnswer(Base):
    """An answer text by key (`faq/<key>`, `hotline_*`, `greet`, ...); placeholders kept as written."""

    __tablename__ = "nlu_answers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100))


class NluResource(Base):
    """Training data that is not an intent: a regex, a lookup table or a synonym (one block)."""

    __tablename__ = "nlu_resources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    examples: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)


class NluModel(Base):
    """The model registry: every model trained from the working copy (and the one it started with)."""

    __tablename__ = "nlu_models"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(128))  # the model file name without .tar.gz
    data_hash: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1000))
    epochs: Mapped[int | None] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # trained | evaluated | active | retired | eval_failed
    trained_by: Mapped[str] = mapped_column(String(100))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    activated_at: Mapped[datetime | None] = mapped_column()
    activated_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)


class NluTrainingJob(Base):
    __tablename__ = "nlu_training_jobs"
    __table_args__ = (Index("ix_nlu_training_jobs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed | cancelled
    phase: Mapped[str] = mapped_column(String(64), default="")
    requested_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    data_hash: Mapped[str | None] = mapped_column(String(64))
    epochs: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_models.id"))


# --------------------------------------------------------------------------- seeding, export, import

@dataclass(frozen=True)
class Block:
    """One block of Rasa NLU data as plain data (what nlu.yaml_io reads and writes)."""

    kind: str  # intent | regex | lookup | synonym
    name: str
    examples: tuple[str, ...]


async def is_seeded(session: AsyncSession) -> bool:
    return (await session.execute(select(func.count(NluIntent.id)))).scalar_one() > 0


async def seed(session: AsyncSession, blocks: Iterable[Block], answers: dict[str, str], *,
               actor: str = "seed") -> bool:
    """Fill an empty working copy (idempotent: does nothing once there are intents)."""
    if await is_seeded(session):
        return False
    await _replace_all(session, list(blocks), actor, source="seed")
    for key, text in answers.items():
        session.add(NluAnswer(key=key, text=text, updated_at=utcnow(), updated_by=actor))
    await session.flush()
    return True


async def _replace_all(session: AsyncSession, blocks: list[Block], actor: str, source: str) -> None:
    now = utcnow()
    intents: dict[str, NluIntent] = {}
    position = 0
    for block in blocks:
        if block.kind == "intent":
            intent = intents.get(block.name)
            if intent is None:
                intent = (await session.execute(select(NluIntent).where(NluIntent.name == block.name))).scalar_one_or_none()
            if intent is None:
                intent = NluIntent(name=block.name, kind=intent_kind(block.name), created_at=now, updated_at=now,
                                   updated_by=actor)
                session.add(intent)
                await session.flush()
            intents[block.name] = intent
            for text in block.examples:
                session.add(NluExample(intent_id=intent.id, text=text, source=source, created_at=now,
                                       created_by=actor))
        else:
            session.add(NluResource(kind=block.kind, name=block.name, examples=list(block.examples),
                                    position=position))
            position += 1
    await session.flush()


async def export_blocks(session: AsyncSession) -> list[Block]:
    """The working copy as Rasa blocks, in a stable order (same data → same files → same hash)."""
    rows = (await session.execute(
        select(NluIntent.name, NluExample.text).join(NluExample, NluExample.intent_id == NluIntent.id)
        .order_by(NluIntent.name, NluExample.id)
    )).all()
    grouped: dict[str, list[str]] = {}
    for name, text in rows:
        grouped.setdefault(name, []).append(text)
    blocks = [Block("intent", name, tuple(texts)) for name, texts in grouped.items()]
    resources = (await session.execute(select(NluResource).order_by(NluResource.position, NluResource.id))).scalars()
    blocks += [Block(r.kind, r.name, tuple(r.examples)) for r in resources]
    return blocks


async def import_blocks(session: AsyncSession, blocks: Sequence[Block], *, actor: str,
                        replace_intents: bool = False) -> dict[str, int]:
    """Merge validated blocks into the working copy: new intents are created, new examples added
    (existing texts skipped); resources with the same kind and name are replaced. With
    `replace_intents`, the examples of every intent named in the file are replaced by the file's."""
    added = skipped = resources = 0
    intents_touched: set[str] = set()
    for block in blocks:
        if block.kind == "intent":
            intent = await _intent(session, block.name, create=True, actor=actor)
            if replace_intents and block.name not in intents_touched:
                await session.execute(delete(NluExample).where(NluExample.intent_id == intent.id))
            intents_touched.add(block.name)
            n = await _add_texts(session, intent, block.examples, actor=actor, source="import")
            added += n
            skipped += len(block.examples) - n
        elif block.kind in RESOURCE_KINDS:
            existing = (await session.execute(select(NluResource).where(NluResource.kind == block.kind,
                                                                        NluResource.name == block.name))).scalars().all()
            position = existing[0].position if existing else await _next_position(session)
            for row in existing:
                await session.delete(row)
            session.add(NluResource(kind=block.kind, name=block.name, examples=list(block.examples), position=position))
            resources += 1
        else:
            raise WorkspaceError(400, "bad_block", f"未知的数据块类型 {block.kind}")
    await session.flush()
    await audit(session, actor=actor, action="nlu_import", detail={"added": added, "skipped": skipped,
                                                                    "resources": resources,
                                                                    "intents": sorted(intents_touched)})
    return {"added": added, "skipped": skipped, "resources": resources, "intents": len(intents_touched)}


async def _next_position(session: AsyncSession) -> int:
    return ((await session.execute(select(func.max(NluResource.position)))).scalar_one() or 0) + 1


# --------------------------------------------------------------------------- intents and examples

@dataclass(frozen=True)
class IntentSummary:
    name: str
    kind: str
    examples: int
    updated_at: datetime
    updated_by: str
    has_answer: bool


async def intents_overview(session: AsyncSession) -> list[IntentSummary]:
    counts = dict((await session.execute(
        select(NluExample.intent_id, func.count(NluExample.id)).group_by(NluExample.intent_id))).all())
    answer_keys = set((await session.execute(select(NluAnswer.key))).scalars())
    intents = (await session.execute(select(NluIntent).order_by(NluIntent.kind, NluIntent.name))).scalars()
    return [IntentSummary(i.name, i.kind, counts.get(i.id, 0), i.updated_at, i.updated_by, i.name in answer_keys)
            for i in intents]


def check_intent_name(name: Any) -> str:
    if not isinstance(name, str) or not INTENT_NAME_RE.match(name.strip()):
        raise WorkspaceError(400, "bad_intent_name",
                             "意图名须为小写字母、数字和下划线（以字母开头），FAQ 主题写作 faq/主题，例如 faq/heating")
    return name.strip()


def clean_example(text: Any) -> str:
    if not isinstance(text, str):
        raise WorkspaceError(400, "empty_example", "例句不能为空")
    text = " ".join(text.split())  # one line: Rasa's examples block has one example per line
    if not text:
        raise WorkspaceError(400, "empty_example", "例句不能为空")
    if len(text) > MAX_EXAMPLE:
        raise WorkspaceError(413, "example_too_long", f"例句不能超过 {MAX_EXAMPLE} 个字")
    return text


async def get_intent(session: AsyncSession, name: str) -> NluIntent:
    intent = (await session.execute(select(NluIntent).where(NluIntent.name == name))).scalar_one_or_none()
    if intent is None:
        raise WorkspaceError(404, "intent_not_found", f"没有意图 {name}")
    return intent


async def _intent(session: AsyncSession, name: str, *, create: bool, actor: str) -> NluIntent:
    name = check_intent_name(name)
    intent = (await session.execute(select(NluIntent).where(NluIntent.name == name))).scalar_one_or_none()
    if intent is None:
        if not create:
            raise WorkspaceError(404, "intent_not_found", f"没有意图 {name}")
        now = utcnow()
        intent = NluIntent(name=name, kind=intent_kind(name), created_at=now, updated_at=now, updated_by=actor)
        session.add(intent)
        await session.flush()
    return intent


async def create_intent(session: AsyncSession, name: Any, *, actor: str, examples: Sequence[Any] = (),
                        answer: str | None = None) -> NluIntent:
    """A new intent (a new FAQ topic `faq/<key>` with its answer, a new department...)."""
    name = check_intent_name(name)
    if (await session.execute(select(NluIntent.id).where(NluIntent.name == name))).first() is not None:
        raise WorkspaceError(409, "intent_exists", f"意图 {name} 已存在")
    if name.startswith("faq/") and not (answer or "").strip():
        raise WorkspaceError(400, "answer_required", "新的 FAQ 主题需要填写答复内容")
    intent = await _intent(session, name, create=True, actor=actor)
    if examples:
        await _add_texts(session, intent, [clean_example(t) for t in examples], actor=actor, source="admin")
    if answer is not None and answer.strip():
        await set_answer(session, name, answer, actor=actor)
    await audit(session, actor=actor, action="nlu_intent_created", target=name,
                detail={"examples": len(examples)})
    return intent


async def delete_intent(session: AsyncSession, name: str, *, actor: str) -> None:
    intent = await get_intent(session, name)
    await session.execute(delete(NluExample).where(NluExample.intent_id == intent.id))
    await session.delete(intent)
    await audit(session, actor=actor, action="nlu_intent_deleted", target=name)


async def examples_of(session: AsyncSession, name: str) -> list[NluExample]:
    intent = await get_intent(session, name)
    return list((await session.execute(select(NluExample).where(NluExample.intent_id == intent.id)
                                       .order_by(NluExample.id))).scalars())


async def _add_texts(session: AsyncSession, intent: NluIntent, texts: Iterable[str], *, actor: str,
                     source: str) -> int:
    existing = set((await session.execute(select(NluExample.text).where(NluExample.intent_id == intent.id))).scalars())
    added = 0
    now = utcnow()
    for text in texts:
        if text in existing:
            continue
        existing.add(text)
        session.add(NluExample(intent_id=intent.id, text=text, source=source, created_at=now, created_by=actor))
        added += 1
    if added:
        intent.updated_at, intent.updated_by = now, actor
    await session.flush()
    return added


async def add_examples(session: AsyncSession, name: str, texts: Sequence[Any], *, actor: str,
                       source: str = "admin") -> int:
    """Add examples to an existing intent; duplicates are skipped. Returns how many were added."""
    cleaned = [clean_example(t) for t in texts]
    if not cleaned:
        raise WorkspaceError(400, "empty_example", "请至少填写一条例句")
    intent = await _intent(session, name, create=False, actor=actor)
    return await _add_texts(session, intent, cleaned, actor=actor, source=source)


async def _example(session: AsyncSession, example_id: int) -> tuple[NluExample, NluIntent]:
    example = await session.get(NluExample, example_id)
    if example is None:
        raise WorkspaceError(404, "example_not_found", "没有这条例句")
    intent = await session.get(NluIntent, example.intent_id)
    assert intent is not None
    return example, intent


async def update_example(session: AsyncSession, example_id: int, text: Any, *, actor: str) -> NluExample:
    example, intent = await _example(session, example_id)
    example.text = clean_example(text)
    intent.updated_at, intent.updated_by = utcnow(), actor
    return example


async def delete_example(session: AsyncSession, example_id: int, *, actor: str) -> str:
    example, intent = await _example(session, example_id)
    await session.delete(example)
    intent.updated_at, intent.updated_by = utcnow(), actor
    return intent.name


# --------------------------------------------------------------------------- answers

async def answers(session: AsyncSession) -> dict[str, str]:
    return {a.key: a.text for a in (await session.execute(select(NluAnswer).order_by(NluAnswer.key))).scalars()}


async def answer_rows(session: AsyncSession) -> list[NluAnswer]:
    return list((await session.execute(select(NluAnswer).order_by(NluAnswer.key))).scalars())


async def set_answer(session: AsyncSession, key: str, text: Any, *, actor: str) -> NluAnswer:
    if not isinstance(text, str) or not text.strip():
        raise WorkspaceError(400, "empty_answer", "答复内容不能为空")
    if not isinstance(key, str) or not key.strip() or len(key) > 128:
        raise WorkspaceError(400, "bad_key", "答复的键不正确")
    row = (await session.execute(select(NluAnswer).where(NluAnswer.key == key))).scalar_one_or_none()
    if row is None:
        row = NluAnswer(key=key, text=text.strip(), updated_at=utcnow(), updated_by=actor)
        session.add(row)
    else:
        row.text, row.updated_at, row.updated_by = text.strip(), utcnow(), actor
    await session.flush()
    await audit(session, actor=actor, action="nlu_answer_changed", target=key)
    return row


# --------------------------------------------------------------------------- operators' suggestions

async def suggestions(session: AsyncSession, *, status: str | None = "new", limit: int = 500) -> list[TrainingSuggestion]:
    stmt = select(TrainingSuggestion).order_by(TrainingSuggestion.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(TrainingSuggestion.status == status)
    return list((await session.execute(stmt)).scalars())


def suggestion_intent(row: TrainingSuggestion, chosen: str | None = None) -> str | None:
    """The Rasa intent a suggestion trains, or None: only the department is an intent (dept_<code>).
    Region comes from the gazetteer and request type from rules: those suggestions are reviewed and kept
    as labelled data, but they add no training example."""
    prefix = SUGGESTION_INTENT_FIELDS.get(row.field)
    value = chosen if chosen is not None else row.chosen
    if prefix is None or not value:
        return None
    return value if value.startswith(prefix) or "/" in value else prefix + value


async def review_suggestions(session: AsyncSession, decisions: Sequence[dict[str, Any]], *, actor: str) -> dict[str, int]:
    """Accept or reject suggestions in bulk. Each decision: {"id", "action": accept|reject, optional
    "text" and "intent" (edit before accepting)}. Accepting a department suggestion adds the (edited)
    text as an example of dept_<chosen> (or of the edited intent). All or nothing."""
    accepted = rejected = examples = 0
    now = utcnow()
    for decision in decisions:
        row = await session.get(TrainingSuggestion, int(decision.get("id") or 0))
        if row is None:
            raise WorkspaceError(404, "suggestion_not_found", f"没有训练建议 {decision.get('id')}")
        action = decision.get("action")
        if action == "reject":
            row.status = "rejected"
            rejected += 1
        elif action == "accept":
            intent_name = decision.get("intent") or suggestion_intent(row)
            if intent_name:
                intent = await _intent(session, intent_name, create=False, actor=actor)
                text = clean_example(decision.get("text") if decision.get("text") is not None else row.text)
                examples += await _add_texts(session, intent, [text], actor=actor, source="suggestion")
            row.status = "accepted"
            accepted += 1
        else:
            raise WorkspaceError(400, "bad_action", "操作只能是 accept 或 reject")
        row.reviewed_by, row.reviewed_at = actor, now
    await session.flush()
    await audit(session, actor=actor, action="nlu_suggestions_reviewed",
                detail={"accepted": accepted, "rejected": rejected, "examples": examples})
    return {"accepted": accepted, "rejected": rejected, "examples": examples}


# --------------------------------------------------------------------------- model registry

async def models(session: AsyncSession) -> list[NluModel]:
    return list((await session.execute(select(NluModel).order_by(NluModel.version.desc()))).scalars())


async def get_model(session: AsyncSession, version: int) -> NluModel:
    row = (await session.execute(select(NluModel).where(NluModel.version == version))).scalar_one_or_none()
    if row is None:
        raise WorkspaceError(404, "model_not_found", f"没有模型版本 {version}")
    return row


async def model_by_name(session: AsyncSession, name: str) -> NluModel | None:
    return (await session.execute(select(NluModel).where(NluModel.name == name)
                                  .order_by(NluModel.version.desc()).limit(1))).scalar_one_or_none()


async def active_model(session: AsyncSession) -> NluModel | None:
    return (await session.execute(select(NluModel).where(NluModel.status == "active")
                                  .order_by(NluModel.version.desc()).limit(1))).scalar_one_or_none()


async def register_model(session: AsyncSession, *, name: str, data_hash: str, path: str, trained_by: str,
                         epochs: int | None = None, train_seconds: float | None = None,
                         status: str = "trained", note: str | None = None) -> NluModel:
    version = ((await session.execute(select(func.max(NluModel.version)))).scalar_one() or 0) + 1
    row = NluModel(version=version, name=name, data_hash=data_hash, path=path, epochs=epochs, metrics=None,
                   status=status, trained_by=trained_by, trained_at=utcnow(), train_seconds=train_seconds,
                   note=note)
    session.add(row)
    await session.flush()
    return row


async def set_metrics(session: AsyncSession, version: int, metrics: dict[str, Any] | None, *,
                      failed: str | None = None) -> NluModel:
    row = await get_model(session, version)
    row.metrics = metrics
    if row.status in ("trained", "evaluated", "eval_failed"):
        row.status = "eval_failed" if failed else "evaluated"
    if failed:
        row.note = failed
    return row


async def mark_active(session: AsyncSession, version: int, *, actor: str, override_reason: str | None = None,
                      refused: Sequence[str] = ()) -> NluModel:
    row = await get_model(session, version)
    previous = await active_model(session)
    if previous is not None and previous.id != row.id:
        previous.status = "retired"
    row.status, row.activated_at, row.activated_by = "active", utcnow(), actor
    detail: dict[str, Any] = {"version": version, "model": row.name,
                              "previous": previous.version if previous is not None else None}
    if override_reason:
        detail.update(override_reason=override_reason, guard=list(refused))
    await audit(session, actor=actor, action="nlu_model_override" if override_reason else "nlu_model_activated",
                target=row.name, detail=detail)
    return row


# --------------------------------------------------------------------------- training jobs

async def create_job(session: AsyncSession, *, actor: str, epochs: int | None) -> NluTrainingJob:
    job = NluTrainingJob(status="running", phase="准备训练数据", requested_by=actor, created_at=utcnow(),
                         epochs=epochs, progress=0.0, log="")
    session.add(job)
    await session.flush()
    await audit(session, actor=actor, action="nlu_training_started", target=str(job.id))
    return job


async def get_job(session: AsyncSession, job_id: int) -> NluTrainingJob:
    job = await session.get(NluTrainingJob, job_id)
    if job is None:
        raise WorkspaceError(404, "job_not_found", f"没有训练任务 {job_id}")
    return job


async def jobs(session: AsyncSession, limit: int = 20) -> list[NluTrainingJob]:
    return list((await session.execute(select(NluTrainingJob).order_by(NluTrainingJob.id.desc()).limit(limit))).scalars())


async def update_job(session: AsyncSession, job_id: int, **changes: Any) -> NluTrainingJob:
    job = await get_job(session, job_id)
    for key, value in changes.items():
        setattr(job, key, value)
    if changes.get("status") in ("succeeded", "failed", "cancelled"):
        job.finished_at = utcnow()
    return job
