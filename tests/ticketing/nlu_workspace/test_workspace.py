"""The admins' NLU working copy on both backends: seeding, intents/examples/answers, import,
suggestions in bulk, the model registry and training jobs."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from ticketing.db.models.accounts import AuditLog
from ticketing.db.models.base import utcnow
from ticketing.db.models.nlu import TrainingSuggestion
from ticketing.errors import WorkspaceError
from ticketing.nlu_workspace import answers as nlu_workspace_answers
from ticketing.nlu_workspace import intents, jobs, registry, suggestions
from ticketing.nlu_workspace.intents import Block
from ticketing.tickets import store

SEED = [
    Block("intent", "greet", ("你好", "您好")),
    Block("intent", "faq/service_hours", ("12345几点上班",)),
    Block("intent", "dept_transport", ("公交车不停站",)),
    Block("regex", "phone", (r"1[3-9]\d{9}",)),
    Block("synonym", "xinhua", ("新华区", "新华")),
    Block("intent", "greet", ("早上好",)),  # an intent may appear in two files
]
ANSWERS = {"faq/service_hours": "7×24小时，{network_start}起人工", "greet": "您好！"}


async def _seeded(sessions):
    async with sessions() as session, session.begin():
        assert await intents.seed(session, SEED, ANSWERS) is True
    async with sessions() as session, session.begin():
        assert await intents.seed(session, SEED, ANSWERS) is False  # idempotent


async def test_seed_export_and_overview(sessions):
    await _seeded(sessions)
    async with sessions() as session:
        overview = {i.name: i for i in await intents.intents_overview(session)}
        blocks = await intents.export_blocks(session)
    assert overview["greet"].examples == 3 and overview["greet"].kind == "chitchat"
    assert overview["faq/service_hours"].has_answer and overview["dept_transport"].kind == "department"
    assert [(b.kind, b.name) for b in blocks] == [
        ("intent", "dept_transport"), ("intent", "faq/service_hours"), ("intent", "greet"),
        ("regex", "phone"), ("synonym", "xinhua")]
    assert blocks[2].examples == ("你好", "您好", "早上好")


async def test_examples_intents_and_answers(sessions):
    await _seeded(sessions)
    async with sessions() as session, session.begin():
        assert await intents.add_examples(session, "greet", ["  你好 ", "嗨  你好"], actor="root") == 1
        with pytest.raises(WorkspaceError) as err:
            await intents.add_examples(session, "nope", ["x"], actor="root")
        assert err.value.status == 404
        with pytest.raises(WorkspaceError):
            await intents.add_examples(session, "greet", ["   "], actor="root")
        with pytest.raises(WorkspaceError) as err:
            await intents.create_intent(session, "faq/heating", actor="root", examples=["暖气费怎么交"])
        assert err.value.code == "answer_required"
        await intents.create_intent(session, "faq/heating", actor="root", examples=["暖气费怎么交", "供暖什么时候开始"],
                               answer="供暖期为每年11月15日至次年3月15日。")
        with pytest.raises(WorkspaceError) as err:
            await intents.create_intent(session, "Bad Name", actor="root")
        assert err.value.code == "bad_intent_name"
        with pytest.raises(WorkspaceError) as err:
            await intents.create_intent(session, "faq/heating", actor="root", answer="x")
        assert err.value.status == 409
    async with sessions() as session, session.begin():
        examples = await intents.examples_of(session, "greet")
        assert [e.text for e in examples][-1] == "嗨 你好"
        await intents.update_example(session, examples[0].id, "你好呀", actor="root")
        assert await intents.delete_example(session, examples[1].id, actor="root") == "greet"
        await nlu_workspace_answers.set_answer(session, "greet", "您好，这里是12345。", actor="root")
    async with sessions() as session:
        assert [e.text for e in await intents.examples_of(session, "greet")] == ["你好呀", "早上好", "嗨 你好"]
        answers = await nlu_workspace_answers.answers(session)
        assert answers["greet"] == "您好，这里是12345。" and answers["faq/heating"].startswith("供暖期")
        heating = next(i for i in await intents.intents_overview(session) if i.name == "faq/heating")
        assert heating.examples == 2 and heating.updated_by == "root" and heating.kind == "faq"
        actions = set((await session.execute(select(AuditLog.action))).scalars())
    assert {"nlu_intent_created", "nlu_answer_changed"} <= actions
    async with sessions() as session, session.begin():
        await intents.delete_intent(session, "faq/heating", actor="root")
    async with sessions() as session:
        assert "faq/heating" not in {i.name for i in await intents.intents_overview(session)}


async def test_import_merges_and_replaces(sessions):
    await _seeded(sessions)
    blocks = [Block("intent", "greet", ("你好", "哈喽")), Block("intent", "faq/parking", ("停车怎么收费",)),
              Block("synonym", "xinhua", ("新华区", "新華區"))]
    async with sessions() as session, session.begin():
        result = await intents.import_blocks(session, blocks, actor="root")
    assert result == {"added": 2, "skipped": 1, "resources": 1, "intents": 2}
    async with sessions() as session, session.begin():
        exported = {(b.kind, b.name): b.examples for b in await intents.export_blocks(session)}
        assert exported[("synonym", "xinhua")] == ("新华区", "新華區")
        assert exported[("intent", "greet")] == ("你好", "您好", "早上好", "哈喽")
        await intents.import_blocks(session, [Block("intent", "greet", ("嗨",))], actor="root", replace_intents=True)
    async with sessions() as session:
        exported = {(b.kind, b.name): b.examples for b in await intents.export_blocks(session)}
    assert exported[("intent", "greet")] == ("嗨",)


async def _suggestion(sessions, field: str, chosen: str, text: str) -> int:
    async with sessions() as session, session.begin():
        conv = await store.lock_conversation(session, "web", "s" + uuid.uuid4().hex, utcnow())
        ticket = await store.create_ticket(session, conversation=conv, channel="web", actor="bot", title=text,
                                              classification="predicted", at=utcnow())
        row = TrainingSuggestion(ticket_id=ticket.id, field=field, text=text, predicted="x", chosen=chosen,
                                 operator="li", status="new", created_at=utcnow())
        session.add(row)
        await session.flush()
        return row.id


async def test_suggestions_accept_edit_reject_in_bulk(sessions):
    await _seeded(sessions)
    a = await _suggestion(sessions, "department", "transport", "公交站牌被撞坏了")
    b = await _suggestion(sessions, "department", "transport", "出租车拒载")
    c = await _suggestion(sessions, "region", "xinhua", "西市场附近")
    d = await _suggestion(sessions, "department", "transport", "乱写的")
    async with sessions() as session, session.begin():
        rows = {s.id: s for s in await suggestions.suggestions(session)}
        assert suggestions.suggestion_intent(rows[a]) == "dept_transport" and suggestions.suggestion_intent(rows[c]) is None
        result = await suggestions.review_suggestions(session, [
            {"id": a, "action": "accept"},
            {"id": b, "action": "accept", "text": "出租车司机拒载乘客"},
            {"id": c, "action": "accept"},
            {"id": d, "action": "reject"},
        ], actor="root")
    assert result == {"accepted": 3, "rejected": 1, "examples": 2}
    async with sessions() as session:
        texts = [e.text for e in await intents.examples_of(session, "dept_transport")]
        assert texts[-2:] == ["公交站牌被撞坏了", "出租车司机拒载乘客"]
        assert await suggestions.suggestions(session) == []
        statuses = {s.id: (s.status, s.reviewed_by) for s in await suggestions.suggestions(session, status=None)}
    assert statuses[d] == ("rejected", "root") and statuses[c] == ("accepted", "root")
    # all or nothing: an unknown intent rolls the whole batch back
    e = await _suggestion(sessions, "department", "transport", "地铁")
    with pytest.raises(WorkspaceError):
        async with sessions() as session, session.begin():
            await suggestions.review_suggestions(session, [{"id": e, "action": "accept"},
                                                  {"id": e, "action": "accept", "intent": "dept_nowhere"}], actor="root")
    async with sessions() as session:
        assert [s.id for s in await suggestions.suggestions(session)] == [e]
        assert "地铁" not in [x.text for x in await intents.examples_of(session, "dept_transport")]


async def test_registry_and_jobs(sessions):
    async with sessions() as session, session.begin():
        v1 = await registry.register_model(session, name="nlu-aaa", data_hash="aaa", path="/m/a.tar.gz", trained_by="system",
                                     status="active")
        v2 = await registry.register_model(session, name="nlu-bbb", data_hash="bbb", path="/m/b.tar.gz", trained_by="root",
                                     epochs=20, train_seconds=61.5)
        assert (v1.version, v2.version) == (1, 2)
        await registry.set_metrics(session, 2, {"department_top1": 0.9})
        job = await jobs.create_job(session, actor="root", epochs=20)
    async with sessions() as session, session.begin():
        assert (await registry.get_model(session, 2)).status == "evaluated"
        await registry.mark_active(session, 2, actor="root", override_reason="紧急上线", refused=["部门下降"])
        await jobs.update_job(session, job.id, status="succeeded", progress=1.0, model_id=v2.id)
    async with sessions() as session:
        assert (await registry.active_model(session)).version == 2
        assert (await registry.get_model(session, 1)).status == "retired"
        done = await jobs.get_job(session, job.id)
        assert done.finished_at is not None and done.progress == 1.0
        audit = (await session.execute(select(AuditLog).where(AuditLog.action == "nlu_model_override"))).scalar_one()
        assert audit.detail["override_reason"] == "紧急上线" and audit.detail["previous"] == 1
        with pytest.raises(WorkspaceError):
            await registry.get_model(session, 9)
