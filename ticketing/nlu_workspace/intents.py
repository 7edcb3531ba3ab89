"""The admins' NLU working copy: intents, examples and resources; seeded from and exported to
the Rasa YAML in ``nlu/data``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.audit import audit
from ticketing.db.models.base import utcnow
from ticketing.db.models.nlu import NluAnswer, NluExample, NluIntent, NluResource
from ticketing.errors import WorkspaceError
from ticketing.nlu_workspace.answers import set_answer

INTENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}(/[a-z][a-z0-9_]{0,62})?$")
RESOURCE_KINDS = ("regex", "lookup", "synonym")
MAX_EXAMPLE = 2000


def intent_kind(name: str) -> str:
    if name.startswith("faq/"):
        return "faq"
    for prefix, kind in (("dept_", "department"), ("emergency_", "emergency"), ("hotline_", "hotline")):
        if name.startswith(prefix):
            return kind
    if name in ("greet", "thanks", "out_of_scope"):
        return "chitchat"
    return "other"


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


async def search_examples(session: AsyncSession, query: str, limit: int = 200) -> list[tuple[str, NluExample]]:
    """Examples containing `query` (any intent), with their intent's name."""
    needle = query.strip()
    if not needle:
        return []
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = await session.execute(select(NluIntent.name, NluExample).join(NluIntent, NluExample.intent_id == NluIntent.id)
                                 .where(NluExample.text.like(pattern, escape="\\")).order_by(NluIntent.name, NluExample.id)
                                 .limit(limit))
    return [(name, example) for name, example in rows]


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
