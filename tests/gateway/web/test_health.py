from redis.exceptions import ResponseError

from gateway.infra.resources import REDIS


async def test_healthz_reports_each_component(client):
    resp = await client.get("/healthz")
    assert resp.status == 200
    body = await resp.json()
    assert body["components"]["database"]["status"] == "ok"
    assert body["components"]["redis"]["status"] == "ok"
    assert body["components"]["nlu"]["status"] == "disabled"


async def test_healthz_is_503_when_redis_is_down(make_client):
    client = await make_client(redis_url="redis://127.0.0.1:1/0", run_worker=False)
    resp = await client.get("/healthz")
    assert resp.status == 503
    body = await resp.json()
    assert body["components"]["redis"]["status"] == "error"
    assert body["components"]["database"]["status"] == "ok"


async def test_healthz_is_503_when_the_configured_nlu_is_down(make_client):
    client = await make_client(HOTLINE_NLU_ENABLED=True, RASA_URL="http://127.0.0.1:1")
    resp = await client.get("/healthz")
    assert resp.status == 503
    assert (await resp.json())["components"]["nlu"]["status"] == "error"


async def test_metrics_are_prometheus_text(client):
    await client.post("/api/v1/web/messages", json={"session_id": "s" * 20, "text": "你好"})
    resp = await client.get("/metrics")
    assert resp.status == 200
    text = await resp.text()
    assert 'hotline_messages_accepted_total{channel="web"} 1.0' in text


async def test_healthz_tells_anonymous_callers_status_words_only(make_client):
    client = await make_client(redis_url="redis://127.0.0.1:1/0", run_worker=False)
    body = await (await client.get("/healthz")).json()
    assert body["components"]["redis"] == {"status": "error"}
    assert "127.0.0.1" not in str(body) and "Error" not in str(body)


async def test_healthz_gives_the_admin_token_the_failure_detail(make_client):
    client = await make_client(redis_url="redis://127.0.0.1:1/0", run_worker=False,
                               HOTLINE_ADMIN_TOKEN="a" * 32)
    body = await (await client.get("/healthz", headers={"Authorization": "Bearer " + "a" * 32})).json()
    assert body["components"]["redis"]["status"] == "error"
    assert "Error" in body["components"]["redis"]["detail"]
    wrong = await (await client.get("/healthz", headers={"Authorization": "Bearer " + "b" * 32})).json()
    assert "detail" not in wrong["components"]["redis"]


async def test_healthz_reports_whether_redis_persists(client, backend):
    body = await (await client.get("/healthz")).json()
    appendonly = (await client.app[REDIS].config_get("appendonly"))["appendonly"]
    assert body["redis_persistence"] == ("aof" if appendonly == "yes" else "off")
    if backend == "embedded":  # the embedded Redis always keeps an append-only file
        assert body["redis_persistence"] == "aof"


async def test_healthz_reports_persistence_unknown_when_redis_refuses_config(client, monkeypatch):
    async def refused(*args, **kwargs):
        raise ResponseError("unknown command 'CONFIG'")

    monkeypatch.setattr(client.app[REDIS], "config_get", refused)
    assert (await (await client.get("/healthz")).json())["redis_persistence"] == "unknown"


async def test_metrics_refuse_a_peer_outside_the_allowed_networks(make_client):
    client = await make_client(HOTLINE_METRICS_ALLOW="10.0.0.0/8")
    resp = await client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"})
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"


async def test_metrics_answer_the_metrics_token_from_anywhere(make_client):
    client = await make_client(HOTLINE_METRICS_ALLOW="10.0.0.0/8", HOTLINE_METRICS_TOKEN="m" * 32)
    assert (await client.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})).status == 403
    resp = await client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32})
    assert resp.status == 200
    assert "hotline_messages_accepted_total" in await resp.text()


async def test_healthz_follows_the_nlu_of_hotline_run_while_it_trains_and_loads(stack, aiohttp_client):
    from gateway.runtime.assembly import create_app
    from gateway.web.health import NLU_STARTUP
    from nlu.server import NluStartup

    app = create_app(stack.settings(HOTLINE_NLU_ENABLED=True), redis_url=stack.redis_url)
    startup = app[NLU_STARTUP] = NluStartup(phase="training", fraction=0.374)
    client = await aiohttp_client(app)
    resp = await client.get("/healthz")
    body = await resp.json()
    # The gateway serves meanwhile (messages become unclassified tickets): not a failure.
    assert resp.status == 200 and body["status"] == "ok"
    assert body["nlu"] == "training (37 %)" and body["components"]["nlu"] == {"status": "starting"}
    startup.phase = "loading"
    assert (await (await client.get("/healthz")).json())["nlu"] == "loading"
    startup.phase, startup.detail = "down", "TrainingError: rasa train nlu failed"
    resp = await client.get("/healthz", headers={"Authorization": "Bearer test-admin-token-0123456789"})
    body = await resp.json()
    assert resp.status == 503 and body["nlu"] == "down"
    assert body["components"]["nlu"] == {"status": "error", "detail": "TrainingError: rasa train nlu failed"}
