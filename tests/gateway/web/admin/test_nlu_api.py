"""The NLU administration API without a Rasa server: roles and CSRF, the working copy seeded from
nlu/data, intents/examples/answers, YAML export/import, suggestions, training lock and failure."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from gateway.infra.resources import NLU, SESSIONS
from nlu import training
from tests.gateway.web.admin.conftest import wait_job
from ticketing.accounts import audit

P = "/api/v1/admin/nlu"


@pytest.fixture
def backend() -> str:
    return "embedded"


async def test_only_admins_and_only_with_csrf(console):
    client, agent, _ = console
    anonymous = await agent()
    assert (await anonymous.get(f"{P}/intents")).status == 401
    operator = await agent("li", role="operator")
    supervisor = await agent("boss", role="supervisor")
    for who in (operator, supervisor):
        for method, path, body in (("GET", "/intents", None), ("POST", "/intents", {"name": "faq/x"}),
                                   ("PUT", "/answers", {"key": "greet", "text": "x"}), ("POST", "/train", {}),
                                   ("GET", "/models", None), ("POST", "/models/1/activate", {}),
                                   ("POST", "/suggestions/review", {"decisions": []}), ("GET", "/export", None)):
            resp = await who.request(method, P + path, json=body)
            assert resp.status == 403, (method, path, resp.status)
    assert (await operator.get("/admin/nlu")).status == 403
    admin = await agent("root", role="admin")
    assert (await admin.get(f"{P}/intents")).status == 200
    # no CSRF token: refused, nothing written
    resp = await admin.request("POST", f"{P}/intents", json={"name": "faq/x", "answer": "a"}, csrf=False)
    assert resp.status == 403
    resp = await admin.request("PUT", f"{P}/answers", json={"key": "greet", "text": "x"},
                               headers={"X-CSRF-Token": "forged.token"}, csrf=False)
    assert resp.status == 403
    names = [i["name"] for i in (await (await admin.get(f"{P}/intents")).json())["intents"]]
    assert "faq/x" not in names


async def test_working_copy_seeded_from_the_repository(console):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    intents = {i["name"]: i for i in (await (await admin.get(f"{P}/intents")).json())["intents"]}
    assert intents["faq/service_hours"]["has_answer"] and intents["faq/service_hours"]["kind"] == "faq"
    assert intents["emergency_fire"]["examples"] >= 10 and intents["emergency_fire"]["updated_by"] == "seed"
    # export = the repository's data (same blocks, same examples)
    from nlu.yaml_io import parse_nlu_yaml, read_nlu_dir

    exported = parse_nlu_yaml(await (await admin.get(f"{P}/export")).text())
    repo = read_nlu_dir(training.DATA_DIR)
    merged: dict = {}
    for b in repo:
        merged.setdefault((b.kind, b.name), []).extend(b.examples)
    assert {(b.kind, b.name): list(b.examples) for b in exported} == merged
    # a second process's first request does not seed twice
    again = {i["name"]: i["examples"] for i in (await (await admin.get(f"{P}/intents")).json())["intents"]}
    assert again == {n: i["examples"] for n, i in intents.items()}
    # pages render
    for path in ("/admin/nlu", "/admin/nlu/intent?name=faq/service_hours", "/admin/nlu/answers",
                 "/admin/nlu/suggestions", "/admin/nlu/training", "/admin/nlu/models"):
        resp = await admin.get(path)
        assert resp.status == 200, path
    assert (await admin.get("/admin/nlu/intent?name=nope")).status == 404


async def test_new_faq_topic_examples_and_answer_take_effect_without_training(console):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    resp = await admin.post(f"{P}/intents", {"name": "faq/heating_fee", "examples": ["暖气费在哪里交"]})
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "answer_required"
    resp = await admin.post(f"{P}/intents", {"name": "faq/heating_fee", "examples": ["暖气费在哪里交", "供暖费怎么缴纳"],
                                             "answer": "供暖费可在{network_start}后到热力公司营业厅缴纳。"})
    assert resp.status == 201
    # the running client answers with it at once (placeholder filled from the directory)
    answer = client.app[NLU].answer_for("faq/heating_fee")
    assert answer.startswith("供暖费可在") and "{network_start}" not in answer
    resp = await admin.post(f"{P}/examples", {"intent": "faq/heating_fee", "texts": ["暖气费交到哪", "供暖费怎么缴纳"]})
    assert (await resp.json()) == {"added": 1, "skipped": 1}
    examples = (await (await admin.get(f"{P}/examples?intent=faq/heating_fee")).json())["examples"]
    assert [e["text"] for e in examples] == ["暖气费在哪里交", "供暖费怎么缴纳", "暖气费交到哪"]
    resp = await admin.request("PUT", f"{P}/examples/{examples[0]['id']}", json={"text": "暖气费到哪里交"})
    assert resp.status == 200
    resp = await admin.request("DELETE", f"{P}/examples/{examples[2]['id']}")
    assert resp.status == 200
    # an existing answer edited: the client uses it immediately
    resp = await admin.request("PUT", f"{P}/answers", json={"key": "greet", "text": "您好，这里是平顶山12345。"})
    assert resp.status == 200 and (await resp.json())["answer"] == "您好，这里是平顶山12345。"
    assert client.app[NLU].answer_for("greet") == "您好，这里是平顶山12345。"
    resp = await admin.request("PUT", f"{P}/answers", json={"key": "greet", "text": "  "})
    assert resp.status == 400
    intents = {i["name"]: i for i in (await (await admin.get(f"{P}/intents")).json())["intents"]}
    assert intents["faq/heating_fee"]["examples"] == 2 and intents["faq/heating_fee"]["updated_by"] == "root"
    assert "暖气费到哪里交" in await (await admin.get(f"{P}/export")).text()


async def test_import_is_validated_and_all_or_nothing(console):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    good = 'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    - 停车场怎么收费\n    - 路边停车收费标准\n'
    bad = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n    早上好\n'
    resp = await admin.post(f"{P}/import", {"files": [{"name": "good.yml", "text": good},
                                                       {"name": "bad.yml", "text": bad}]})
    assert resp.status == 400
    err = (await resp.json())["error"]
    assert err["code"] == "invalid_yaml" and err["file"] == "bad.yml" and err["line"] == 6
    assert "bad.yml" in err["message"] and "第 6 行" in err["message"]
    names = [i["name"] for i in (await (await admin.get(f"{P}/intents")).json())["intents"]]
    assert "faq/parking" not in names  # nothing half-imported
    # multipart upload, as the page sends it
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("files", good.encode(), filename="good.yml", content_type="application/x-yaml")
    resp = await admin.request("POST", f"{P}/import", data=form)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["imported"]["added"] == 2
    intents = {i["name"]: i for i in (await (await admin.get(f"{P}/intents")).json())["intents"]}
    assert intents["faq/parking"]["examples"] == 2


async def test_suggestions_are_reviewed_in_bulk(console):
    from tests.gateway.web.console.conftest import make_ticket
    from ticketing.db.models.base import utcnow
    from ticketing.db.models.nlu import TrainingSuggestion
    from ticketing.db.models.tickets import Ticket

    client, agent, _ = console
    admin = await agent("root", role="admin")
    ids = []
    for field, chosen, text in (("department", "transport", "公交车司机态度差"), ("region", "xinhua", "西市场这边"),
                                ("department", "transport", "出租车绕路")):
        number = await make_ticket(client.app, text=text)
        async with client.app[SESSIONS]() as session, session.begin():
            from sqlalchemy import select

            ticket = (await session.execute(select(Ticket).where(Ticket.number == number))).scalar_one()
            row = TrainingSuggestion(ticket_id=ticket.id, field=field, text=text, predicted="urban_management",
                                     chosen=chosen, operator="li", status="new", created_at=utcnow())
            session.add(row)
            await session.flush()
            ids.append(row.id)
    listed = (await (await admin.get(f"{P}/suggestions")).json())["suggestions"]
    assert {s["id"]: s["intent"] for s in listed} == {ids[0]: "dept_transport", ids[1]: None, ids[2]: "dept_transport"}
    resp = await admin.post(f"{P}/suggestions/review", {"decisions": [
        {"id": ids[0], "action": "accept", "text": "公交车司机服务态度很差"},
        {"id": ids[1], "action": "accept"}, {"id": ids[2], "action": "reject"}]})
    assert await resp.json() == {"accepted": 2, "rejected": 1, "examples": 1}
    texts = [e["text"] for e in (await (await admin.get(f"{P}/examples?intent=dept_transport")).json())["examples"]]
    assert texts[-1] == "公交车司机服务态度很差" and "出租车绕路" not in texts
    assert (await (await admin.get(f"{P}/suggestions")).json())["suggestions"] == []
    assert (await admin.get("/admin/nlu/suggestions?status=all")).status == 200


async def test_training_lock_and_a_clear_failure_reason(console, tmp_path, monkeypatch):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    # A Rasa binary that fails the way Rasa does (an exception on its last line): the job reports it.
    fake = tmp_path / "rasa"
    done = "".join(f"echo \"INFO rasa.engine.training.hooks  - Finished training component '{name}'.\"\n"
                   for name in ("JiebaTokenizer", "RegexEntityExtractor", "LetterAwareIntentClassifier"))
    fake.write_text(f"#!/bin/sh\n{done}sleep 2\n"
                    "echo 'rasa.shared.exceptions.InvalidConfigException: The pipeline is broken'\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("HOTLINE_RASA_BIN", str(fake))
    monkeypatch.setenv("HOTLINE_NLU_MODEL_DIR", str(tmp_path / "models"))
    resp = await admin.post(f"{P}/train", {"epochs": 3})
    assert resp.status == 202
    job_id = (await resp.json())["job_id"]
    second = await admin.post(f"{P}/train", {})
    assert second.status == 409 and (await second.json())["error"]["code"] == "training_running"
    seen: list = []
    job = await wait_job(admin, job_id, timeout=60, seen=seen)
    assert job["status"] == "failed"
    assert job["error"] == "rasa.shared.exceptions.InvalidConfigException: The pipeline is broken"
    assert "InvalidConfigException" in job["log"] and job["data_hash"] and job["epochs"] == 3
    assert 0.5 in seen  # three of the pipeline's six trained components done
    # the lock is released: training can start again (and be cancelled)
    fake.write_text("#!/bin/sh\nsleep 60\n")
    resp = await admin.post(f"{P}/train", {"epochs": 3})
    job_id = (await resp.json())["job_id"]
    assert (await admin.post(f"{P}/jobs/{job_id}/cancel")).status == 202
    job = await wait_job(admin, job_id, timeout=30)
    assert job["status"] == "cancelled" and job["error"] == "管理员取消了训练"
    assert (await admin.post(f"{P}/train", {"epochs": 0})).status == 400
    listed = (await (await admin.get(f"{P}/jobs")).json())
    assert listed["running"] is None and [j["status"] for j in listed["jobs"][:2]] == ["cancelled", "failed"]
    async with client.app[SESSIONS]() as session:
        actions = [a.action for a in await audit.audit_entries(session, actor="root")]
    assert actions.count("nlu_training_started") == 2
    assert os.listdir(tmp_path / "models") == [] or all(not n.endswith(".tar.gz") for n in os.listdir(tmp_path / "models"))


async def test_guard_needs_metrics_and_unknown_models_404(console):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    resp = await admin.post(f"{P}/models/7/activate", {})
    assert resp.status == 404
    assert (await (await admin.get(f"{P}/models")).json())["margin_points"] == 2.0


def test_exported_config_trains_no_component_in_epochs():
    # The epochs override reaches components that train in epochs; today's pipeline has none, so it
    # changes nothing (the same data hash: a cache hit, not a second training).
    assert training.config_epochs(training.config_text()) == []
    assert training.config_text(7) == training.config_text()
    names = [c["name"] for c in yaml.safe_load(training.config_text())["pipeline"]]
    assert training.config_components(training.config_text()) == len(names) - 1 == 6  # all but FallbackClassifier
