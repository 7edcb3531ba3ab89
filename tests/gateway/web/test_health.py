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
