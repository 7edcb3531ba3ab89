"""Liveness of every configured component, and Prometheus metrics.

Both are reachable without a console login (load balancers, Docker health checks, Prometheus),
so neither tells an anonymous caller more than it needs: ``/healthz`` gives status words only
(the failure text, with host names and driver messages, goes to the admin token), and
``/metrics`` answers only the metrics token or the allowed networks.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Literal

import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from gateway.infra.metrics import METRICS
from gateway.infra.redis_client import persistence
from gateway.infra.resources import ENGINE, NLU, REDIS, SETTINGS
from gateway.infra.stream import STREAM
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import documented
from nlu.server import NluStartup
from ticketing.db.engine import ping

routes = web.RouteTableDef()
TAG = "运维"  # operations staff
# Set by `hotline run` (gateway/runtime/nlu_boot.py), whose NLU comes up while the gateway serves.
NLU_STARTUP: web.AppKey[NluStartup] = web.AppKey("nlu_startup", NluStartup)


async def _check(coro, timeout: float = 3.0) -> dict:
    try:
        result = await asyncio.wait_for(coro, timeout)
    except Exception as exc:  # any failure is a health fact, reported not raised
        return {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    if result is False:
        return {"status": "error", "detail": "not ready"}
    return {"status": "ok"}


class ComponentHealth(BaseModel):
    # "starting": the NLU of `hotline run` is training or loading; the gateway serves meanwhile
    # (messages become unclassified tickets), so it does not make the gateway unhealthy.
    status: Literal["ok", "error", "disabled", "starting"]
    detail: str | None = None


class HealthReport(BaseModel):
    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]
    # "off": accepted messages not yet processed are lost if Redis restarts (README, Redis persistence).
    redis_persistence: Literal["aof", "off", "unknown"]
    # "training (37 %)", "loading", "ok", "down" (configured but not answering), or "disabled".
    nlu: str


def _bearer_matches(request: web.Request, secret: str | None) -> bool:
    given = request.headers.get("Authorization", "")
    return bool(secret) and given.startswith("Bearer ") and hmac.compare_digest(
        given[7:].encode(), secret.encode())  # type: ignore[union-attr]


@routes.get("/healthz")
@documented("健康检查：数据库、Redis、NLU，以及 Redis 是否持久化（故障详情仅对管理员令牌显示）", tag=TAG,
            responses={200: ("全部正常", HealthReport), 503: ("有组件不可用", HealthReport)})
async def healthz(request: web.Request) -> web.Response:
    app = request.config_dict
    nlu = app.get(NLU)
    startup = app.get(NLU_STARTUP)
    checks = {
        "database": _check(ping(app[ENGINE])),
        "redis": _check(app[REDIS].ping()),
    }
    if nlu is not None and getattr(nlu, "base_url", None):
        checks["nlu"] = _check(nlu.healthy())
    checked, redis_persistence = await asyncio.gather(
        asyncio.gather(*checks.values()), _persistence(app[REDIS]))
    results = dict(zip(checks, checked))
    nlu_state = _nlu_state(results, startup)
    healthy = all(r["status"] in ("ok", "disabled", "starting") for r in results.values())
    if not _bearer_matches(request, app[SETTINGS].admin_token):
        # Exception text names hosts, ports and drivers: status words only for everyone else.
        results = {name: {"status": r["status"]} for name, r in results.items()}
    return json_response({"status": "ok" if healthy else "degraded", "components": results,
                          "redis_persistence": redis_persistence, "nlu": nlu_state},
                         status=200 if healthy else 503)


def _nlu_state(results: dict[str, dict], startup: NluStartup | None) -> str:
    """Fill in `results["nlu"]` and say in a few words where the NLU is."""
    checked = results.get("nlu")
    if checked is not None and checked["status"] == "ok":
        return "ok"
    if startup is not None and startup.starting:
        results["nlu"] = {"status": "starting", "detail": startup.describe()}
        return startup.describe()
    if checked is not None:
        return "down"
    if startup is not None and startup.phase == "down":
        results["nlu"] = {"status": "error", "detail": startup.detail or "down"}
        return "down"
    results["nlu"] = {"status": "disabled"}
    return "disabled"


async def _persistence(redis: aioredis.Redis) -> str:
    try:
        return await asyncio.wait_for(persistence(redis), 3.0)
    except TimeoutError:
        return "unknown"


def _may_read_metrics(request: web.Request) -> bool:
    settings = request.config_dict[SETTINGS]
    if _bearer_matches(request, settings.metrics_token):
        return True
    # The peer itself, never X-Forwarded-For: a header anyone can write opens nothing here.
    try:
        peer = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    return any(peer in network for network in settings.metrics_networks)


@routes.get("/metrics")
@documented("Prometheus 指标（需 HOTLINE_METRICS_TOKEN 令牌，或来自 HOTLINE_METRICS_ALLOW 网段）", tag=TAG,
            responses={200: "text/plain 指标", 403: "无权读取"})
async def metrics(request: web.Request) -> web.Response:
    if not _may_read_metrics(request):
        raise ApiError(403, "forbidden", "无权读取监控指标")
    app = request.config_dict
    m = app[METRICS]
    try:
        m.backlog.set((await app[STREAM].backlog())["pending"])
    except Exception:
        pass  # metrics must answer even while Redis is down
    return web.Response(body=generate_latest(m.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
