"""A failed training run is pushed to the training page at once (SSE), with its reason in Chinese and
the raw detail kept; 取消 on an ended job says which way it ended."""

from __future__ import annotations

import asyncio
import json
import stat

import aiohttp
import pytest

from tests.gateway.web.admin.conftest import wait_job

P = "/api/v1/admin/nlu"


@pytest.fixture
def backend() -> str:
    return "embedded"


def fake_rasa(tmp_path, monkeypatch, script: str) -> None:
    fake = tmp_path / "rasa"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("HOTLINE_RASA_BIN", str(fake))
    monkeypatch.setenv("HOTLINE_NLU_MODEL_DIR", str(tmp_path / "models"))


async def next_job_event(resp, job_id: int, status: str, timeout: float = 30.0) -> dict:
    async def read() -> dict:
        event = None
        async for raw in resp.content:
            line = raw.decode()
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: ") and event == "job":
                data = json.loads(line[6:])
                if data["id"] == job_id and data["status"] == status:
                    return data
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(read(), timeout)


async def test_a_failed_run_is_pushed_with_its_chinese_reason_and_cancel_says_it_ended(console, tmp_path, monkeypatch):
    client, agent, _ = console
    admin = await agent("root", role="admin")
    fake_rasa(tmp_path, monkeypatch, "echo 'Epochs:   0%|          | 0/2 [00:00<?]'\nsleep 1\n"
                                     "echo 'redis.exceptions.ConnectionError: Too many connections'\nexit 1\n")
    stream = await admin.http.get(admin.base + "/admin/nlu/jobs/events", timeout=aiohttp.ClientTimeout(total=60))
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    try:
        resp = await admin.post(f"{P}/train", {"epochs": 2})
        assert resp.status == 202
        job_id = (await resp.json())["job_id"]
        running = await next_job_event(stream, job_id, "running")
        assert running["phase"] and running["reason"] is None
        failed = await next_job_event(stream, job_id, "failed")
    finally:
        stream.close()
    assert failed["reason"].startswith("Redis 连接数已达上限")
    assert failed["detail"] == "redis.exceptions.ConnectionError: Too many connections"
    assert "Too many connections" in failed["log"] and failed["finished_local"]
    job = await wait_job(admin, job_id, timeout=10)
    assert job["reason"] == failed["reason"]

    resp = await admin.post(f"{P}/jobs/{job_id}/cancel")
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "not_running"
    assert error["message"].startswith(f"训练任务 #{job_id} 已失败（Redis 连接数已达上限") and "无需取消" in error["message"]
    assert error["job"]["status"] == "failed"

    page = await (await admin.get("/admin/nlu/training")).text()
    assert "Redis 连接数已达上限" in page and "原始信息" in page and "Too many connections" in page
