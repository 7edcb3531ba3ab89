"""Liveness of every configured component, and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from gateway.infra.metrics import METRICS
from gateway.infra.resources import ENGINE, NLU, REDIS
from gateway.infra.stream import STREAM
from gateway.web.json_io import json_response
from gateway.web.openapi import documented
from ticketing.db.engine import ping

routes = web.RouteTableDef()
TAG = "运维"  # operations staff


async def _check(coro, timeout: float = 3.0) -> dict:
    try:
        result = await asyncio.wait_for(coro, timeout)
    except Exception as exc:  # any failure is a health fact, reported not raised
        return {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    if result is False:
        return {"status": "error", "detail": "not ready"}
    return {"status": "ok"}


class ComponentHealth(BaseModel):
    status: Literal["ok", "error", "disabled"]
    detail: str | None = None


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]


@routes.get("/healthz")
@documented("健康检查：数据库、Redis、NLU", tag=TAG,
            responses={200: ("全部正常", HealthReport), 503: ("有组件不可用", HealthReport)})
async def healthz(request: web.Request) -> web.Response:
    app = request.config_dict
    nlu = app.get(NLU)
    checks = {
        "database": _check(ping(app[ENGINE])),
        "redis": _check(app[REDIS].ping()),
    }
    if nlu is not None and getattr(nlu, "base_url", None):
        checks["nlu"] = _check(nlu.healthy())
    results = dict(zip(checks, await asyncio.gather(*checks.values())))
    if "nlu" not in results:
        results["nlu"] = {"status": "disabled"}
    healthy = all(r["status"] in ("ok", "disabled") for r in results.values())
    return json_response({"status": "ok" if healthy else "degraded", "components": results},
                         status=200 if healthy else 503)


@routes.get("/metrics")
@documented("Prometheus 指标", tag=TAG, responses={200: "text/plain 指标"})
async def metrics(request: web.Request) -> web.Response:
    app = request.config_dict
    m = app[METRICS]
    try:
        m.backlog.set((await app[STREAM].backlog())["pending"])
    except Exception:
        pass  # metrics must answer even while Redis is down
    return web.Response(body=generate_latest(m.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
