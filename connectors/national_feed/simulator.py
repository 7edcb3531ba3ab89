"""A local stand-in for the national platform, speaking docs/national-feed.md.

For tests and for demos with ``make run`` (``hotline simulate national-feed``): it checks
every signature exactly like a real server would (401 in the documented error format),
serves a configurable list of items page by page, records write-backs, and can be told to
fail the next N write-backs or page fetches with 500.

Control (local only, unsigned): ``GET /_sim/state``, ``POST /_sim/items`` (a JSON list of
items, or ``{"items": [...]}``), ``POST /_sim/fail-write-backs`` and
``POST /_sim/fail-fetches`` with ``{"count": N}``.  In-process, tests use
``app[SIMULATOR]`` (a :class:`SimulatorState`) directly.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from connectors.national_feed.protocol import (
    BEIJING,
    FEEDBACK_STATUSES,
    MAX_PAGE_SIZE,
    MAX_REPLY_CHARS,
    TIMESTAMP_WINDOW_SECONDS,
    error_body,
    evaluation_error,
    parse_platform_time,
    verify_request,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 8091
DEMO_APP_KEY = "pds12345-demo"
DEMO_APP_SECRET = "demo-secret-not-for-production"


def _copy(item: Any) -> Any:
    return dict(item) if isinstance(item, dict) else item


class SimulatorState:
    """Everything the simulator knows; tests read and steer it directly."""

    def __init__(self, app_key: str, app_secret: str, items: Iterable[Any] | None = None,
                 *, window: int = TIMESTAMP_WINDOW_SECONDS) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.window = window
        # Served in this order; the cursor is the offset into it (opaque to clients).
        # The same item may appear twice: real platforms re-send, and clients must cope.
        # Anything JSON-able is served as given, so clients can be tested against garbage.
        self.items: list[Any] = [_copy(i) for i in (items or ())]
        self.write_backs: list[dict[str, Any]] = []
        self.fail_next_write_backs = 0
        self.fail_next_fetches = 0
        self.write_back_attempts = 0
        self.fetches = 0
        self.auth_failures: list[str] = []
        self._nonces: dict[str, float] = {}
        self._by_feedback_id: dict[str, dict[str, Any]] = {}

    # ---- steering ----------------------------------------------------------------------

    def add_items(self, items: Iterable[Any]) -> None:
        self.items.extend(_copy(i) for i in items)

    def fail_write_backs(self, count: int) -> None:
        self.fail_next_write_backs = max(0, int(count))

    def fail_fetches(self, count: int) -> None:
        self.fail_next_fetches = max(0, int(count))

    def item_ids(self) -> set[str]:
        return {str(i["id"]) for i in self.items if isinstance(i, dict) and i.get("id") is not None}

    def write_backs_of(self, item_id: str) -> list[dict[str, Any]]:
        return [w for w in self.write_backs if w["item_id"] == item_id]

    # ---- replay protection -------------------------------------------------------------

    def nonce_seen(self, nonce: str) -> bool:
        now = time.time()
        # Remember nonces for twice the window: a request at the window's far edge can
        # still not be replayed at the opposite edge.
        if len(self._nonces) > 1000:  # prune only when it matters; a demo sees few requests
            self._nonces = {n: t for n, t in self._nonces.items() if t > now}
        if nonce in self._nonces and self._nonces[nonce] > now:
            return True
        self._nonces[nonce] = now + 2 * self.window
        return False

    def snapshot(self) -> dict[str, Any]:
        return {
            "items": len(self.items),
            "write_backs": self.write_backs,
            "fail_next_write_backs": self.fail_next_write_backs,
            "fail_next_fetches": self.fail_next_fetches,
            "write_back_attempts": self.write_back_attempts,
            "fetches": self.fetches,
            "auth_failures": self.auth_failures[-50:],
        }


SIMULATOR: web.AppKey[SimulatorState] = web.AppKey("national_feed_simulator", SimulatorState)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(error_body(code, message), status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _signed(handler):
    """Checks the signature before ``handler`` runs (a decorator rather than a middleware,
    so the check holds wherever the app is mounted, e.g. as a sub-app under a prefix)."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        state = request.app[SIMULATOR]
        body = await request.read()
        failure = verify_request(
            app_key=state.app_key,
            app_secret=state.app_secret,
            method=request.method,
            # The path as on the request line, mount prefix included: what the client signed.
            path=request.rel_url.raw_path,
            query=request.rel_url.query,
            headers=request.headers,
            body=body,
            window=state.window,
            nonce_seen=state.nonce_seen,
        )
        if failure is not None:
            state.auth_failures.append(failure.code)
            log.info("simulator: %s %s refused: %s", request.method, request.path, failure.code)
            return _error(401, failure.code, failure.message)
        return await handler(request)

    return wrapper


@_signed
async def _items(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR]
    state.fetches += 1
    if state.fail_next_fetches > 0:
        state.fail_next_fetches -= 1
        return _error(500, "INTERNAL_ERROR", "平台内部错误（模拟故障）")
    cursor = request.query.get("cursor", "")
    limit_raw = request.query.get("limit", "50")
    if cursor and not cursor.isdigit():
        return _error(400, "INVALID_PARAMETER", "cursor 无效")
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= MAX_PAGE_SIZE:
        return _error(400, "INVALID_PARAMETER", f"limit 应为1至{MAX_PAGE_SIZE}的整数")
    start, limit = int(cursor or 0), int(limit_raw)
    page = state.items[start:start + limit]
    end = start + len(page)
    return web.json_response(
        {"items": page, "next_cursor": str(end), "has_more": end < len(state.items)}, dumps=_dumps)


@_signed
async def _feedback(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR]
    state.write_back_attempts += 1
    item_id = request.match_info["item_id"]
    if state.fail_next_write_backs > 0:
        state.fail_next_write_backs -= 1
        return _error(500, "INTERNAL_ERROR", "平台内部错误（模拟故障）")
    if item_id not in state.item_ids():
        return _error(404, "ITEM_NOT_FOUND", f"事项 {item_id} 不存在")
    try:
        body = json.loads(await request.read())
    except ValueError:
        return _error(400, "INVALID_PARAMETER", "请求体不是合法的JSON")
    if not isinstance(body, dict):
        return _error(400, "INVALID_PARAMETER", "请求体应为JSON对象")
    feedback_id = body.get("feedback_id")
    status = body.get("status")
    reply = body.get("reply")
    handled_at = parse_platform_time(body.get("handled_at"))
    if not isinstance(feedback_id, str) or not 8 <= len(feedback_id) <= 64:
        return _error(422, "INVALID_FEEDBACK", "feedback_id 缺失或格式错误")
    if status not in FEEDBACK_STATUSES:
        return _error(422, "INVALID_FEEDBACK", "status 应为 answered 或 closed")
    if not isinstance(reply, str) or not reply.strip() or len(reply) > MAX_REPLY_CHARS:
        return _error(422, "INVALID_FEEDBACK", f"reply 不能为空且不超过{MAX_REPLY_CHARS}字")
    if handled_at is None:
        return _error(422, "INVALID_FEEDBACK", "handled_at 缺失或格式错误")
    evaluation = body.get("evaluation")
    if evaluation is not None and evaluation_error(evaluation):
        return _error(422, "INVALID_FEEDBACK", f"evaluation 格式错误：{evaluation_error(evaluation)}")
    previous = state._by_feedback_id.get(feedback_id)
    if previous is not None:
        # The same feedback again (a retry after a lost answer): accepted, not recorded twice.
        return web.json_response({"receipt_id": previous["receipt_id"], "duplicate": True}, dumps=_dumps)
    if any(w["status"] == "closed" for w in state.write_backs_of(item_id)):
        return _error(409, "ITEM_CLOSED", f"事项 {item_id} 已办结，不能再回传")
    record = {
        "item_id": item_id,
        "feedback_id": feedback_id,
        "status": status,
        "reply": reply,
        "handled_at": body.get("handled_at"),
        "handler_unit": body.get("handler_unit"),
        "evaluation": evaluation,
        "receipt_id": f"R{len(state.write_backs) + 1:06d}",
        "received_at": datetime.now(BEIJING).isoformat(timespec="seconds"),
    }
    state.write_backs.append(record)
    state._by_feedback_id[feedback_id] = record
    log.info("simulator: write-back %s for item %s: %s", status, item_id, reply[:40])
    return web.json_response({"receipt_id": record["receipt_id"], "duplicate": False}, dumps=_dumps)


async def _sim_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SIMULATOR].snapshot(), dumps=_dumps)


async def _sim_items(request: web.Request) -> web.Response:
    try:
        data = await request.json()
    except ValueError:
        return _error(400, "INVALID_PARAMETER", "请求体不是合法的JSON")
    items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return _error(400, "INVALID_PARAMETER", "应为事项列表")
    request.app[SIMULATOR].add_items(items)
    return web.json_response({"items": len(request.app[SIMULATOR].items)})


async def _count(request: web.Request) -> int | None:
    try:
        data = await request.json()
        count = int(data.get("count", 1))
    except (ValueError, TypeError, AttributeError):
        return None
    return count if count >= 0 else None


async def _sim_fail_write_backs(request: web.Request) -> web.Response:
    count = await _count(request)
    if count is None:
        return _error(400, "INVALID_PARAMETER", "count 应为非负整数")
    request.app[SIMULATOR].fail_write_backs(count)
    return web.json_response({"fail_next_write_backs": count})


async def _sim_fail_fetches(request: web.Request) -> web.Response:
    count = await _count(request)
    if count is None:
        return _error(400, "INVALID_PARAMETER", "count 应为非负整数")
    request.app[SIMULATOR].fail_fetches(count)
    return web.json_response({"fail_next_fetches": count})


async def _index(request: web.Request) -> web.Response:
    state = request.app[SIMULATOR]
    return web.Response(text=(
        "全国一体化在线政务服务平台 — 本地模拟器 (docs/national-feed.md)\n"
        f"items: {len(state.items)}, write-backs: {len(state.write_backs)}\n"
        "GET /api/v1/items?cursor=&limit=   POST /api/v1/items/{id}/feedback   (signed)\n"
        "GET /_sim/state   POST /_sim/items   POST /_sim/fail-write-backs   POST /_sim/fail-fetches\n"
    ), content_type="text/plain", charset="utf-8")


def create_simulator_app(
    app_key: str, app_secret: str, items: Iterable[dict[str, Any]] | None = None,
    *, window: int = TIMESTAMP_WINDOW_SECONDS,
) -> web.Application:
    """The simulator as an aiohttp app; its state is ``app[SIMULATOR]``."""
    app = web.Application()
    app[SIMULATOR] = SimulatorState(app_key, app_secret, items, window=window)
    app.router.add_get("/", _index)
    app.router.add_get("/api/v1/items", _items)
    app.router.add_post("/api/v1/items/{item_id}/feedback", _feedback)
    app.router.add_get("/_sim/state", _sim_state)
    app.router.add_post("/_sim/items", _sim_items)
    app.router.add_post("/_sim/fail-write-backs", _sim_fail_write_backs)
    app.router.add_post("/_sim/fail-fetches", _sim_fail_fetches)
    return app


# ---- demo data -----------------------------------------------------------------------------

# (类型, 区划代码, 区划名称, 标题, 内容, 诉求人) — invented, but the kind of thing citizens write.
_DEMO = (
    ("投诉", "410402", "新华区", "小区垃圾长期无人清运",
     "我住在新华区光明路附近的一个老旧小区，小区内垃圾桶已经一个多星期没有人清运，夏天气味很大，"
     "楼道里还堆满了杂物，存在消防隐患。物业一直推说人手不够，请相关部门督促处理。", "王女士"),
    ("咨询", "410403", "卫东区", "灵活就业人员如何缴纳养老保险",
     "本人是卫东区居民，现在是灵活就业，想咨询一下在平顶山以灵活就业人员身份缴纳城镇职工养老保险，"
     "需要带哪些材料，到哪里办理，可以在网上办理吗？", "李先生"),
    ("求助", "410411", "湛河区", "村里停水三天无人处理",
     "湛河区曹镇乡我们村自来水已经停了三天，村里多是老人和孩子，吃水非常困难，打供水公司电话一直没有人说明原因，"
     "希望尽快恢复供水。", "张先生"),
    ("举报", "410421", "宝丰县", "砂石厂夜间违规生产扰民",
     "宝丰县某镇一家砂石厂每天夜里十一点以后还在生产，机器噪音很大，粉尘飘到附近村里，晚上根本睡不着，"
     "举报其违规生产、污染环境，请环保部门查处。", "匿名"),
    ("建议", "410400", "平顶山高新技术产业开发区", "建议增加高新区早晚高峰公交班次",
     "高新区很多企业职工住在市区，每天早晚高峰公交车非常拥挤，等车时间经常超过二十分钟，"
     "建议公交公司在早七点到八点半、晚五点半到七点之间加密班次。", "赵先生"),
    ("投诉", "410482", "汝州市", "电动车质量问题商家拒绝退换",
     "我在汝州市一家商场购买的电动车，骑了不到一个月电池就无法充电，商家说是人为损坏，拒绝退换，"
     "也不给检测报告，请市场监管部门帮助维权。", "刘女士"),
    ("咨询", "410481", "舞钢市", "随迁子女在舞钢上小学需要什么手续",
     "我们是外地户籍，在舞钢市工作三年了，孩子今年秋季要上一年级，想咨询随迁子女入学需要准备哪些材料，"
     "什么时间报名？", "陈先生"),
    ("投诉", "410423", "鲁山县", "烧烤店油烟直排影响居民生活",
     "鲁山县城一家烧烤店没有安装油烟净化设备，油烟直接排到居民楼下，我们家常年不敢开窗，"
     "多次和店家沟通无果，请城管部门处理。", "孙女士"),
    ("表扬", "410425", "郏县", "感谢社保窗口工作人员",
     "前几天我到郏县人社局窗口补办社保卡，我年纪大了不会用手机，窗口的工作人员非常耐心，一步一步帮我办好，"
     "特别提出表扬和感谢！", "周大爷"),
    ("求助", "", "平顶山市城乡一体化示范区", "工地拖欠农民工工资",
     "我们一共十几个人在示范区一个工地干活，包工头已经两个月没有发工资了，找项目部也找不到人，"
     "家里都等着用钱，请政府帮帮我们。", "吴先生"),
    ("意见建议", "410422", "叶县", "建议县城主干道增设过街设施",
     "叶县县城昆阳大道车流量大，学校附近没有红绿灯和过街天桥，学生上下学过马路很危险，建议增设过街设施。", "郑女士"),
    ("咨询", "410404", "石龙区", "独生子女父母奖励怎么申领",
     "我是石龙区居民，想咨询独生子女父母奖励扶助现在怎么申请，需要什么材料，在哪里办理？", "冯先生"),
)

_DEMO_DAYS = {"咨询": 2, "求助": 10, "建议": 10, "意见建议": 10, "投诉": 15, "举报": 15, "表扬": 2}


def demo_items(count: int = 10, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """``count`` realistic items for Pingdingshan (cycling through the templates with fresh
    ids past twelve), submitted over the last hours, Beijing wall time as the platform sends."""
    now = (now or datetime.now(BEIJING)).astimezone(BEIJING).replace(microsecond=0)
    items = []
    for n in range(count):
        kind, code, division, title, content, name = _DEMO[n % len(_DEMO)]
        submitted = now - timedelta(hours=count - n, minutes=7 * n)
        deadline = submitted + timedelta(days=_DEMO_DAYS.get(kind, 15))
        anonymous = name == "匿名"
        item = {
            "id": f"GJ{submitted:%Y%m%d}{n + 1:06d}",
            "title": title,
            "content": content,
            "citizen_name": None if anonymous else name,
            "citizen_id": None if anonymous else f"U{410400 + n:06d}{n:04d}",
            "phone": None if anonymous else f"1390375{n:04d}",
            "division_code": code or None,
            "division_name": division,
            "type": kind,
            "submitted_at": submitted.strftime("%Y-%m-%d %H:%M:%S"),
            "deadline": deadline.strftime("%Y-%m-%d") + " 23:59:59",
        }
        items.append(item)
    return items


# ---- running it alone ----------------------------------------------------------------------

async def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    app_key: str = DEMO_APP_KEY,
    app_secret: str = DEMO_APP_SECRET,
    items: Iterable[dict[str, Any]] | None = None,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Serve the simulator until ``stop_event`` is set (or the task is cancelled)."""
    app = create_simulator_app(app_key, app_secret, demo_items() if items is None else items)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    log.info("national platform simulator on http://%s:%d (%d items)", host, port, len(app[SIMULATOR].items))
    try:
        await (stop_event or asyncio.Event()).wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """``hotline simulate national-feed [--host H] [--port 8091] [--items N]``."""
    parser = argparse.ArgumentParser(prog="hotline simulate national-feed",
                                     description="Serve the national platform feed protocol locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--items", type=int, default=10, help="number of demo items to serve (default 10)")
    parser.add_argument("--app-key", default=os.environ.get("NATIONAL_FEED_APP_KEY") or DEMO_APP_KEY)
    parser.add_argument("--app-secret", default=os.environ.get("NATIONAL_FEED_APP_SECRET") or DEMO_APP_SECRET)
    args = parser.parse_args(argv)
    if args.items < 0:
        parser.error("--items must not be negative")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    shown = args.app_secret if args.app_secret == DEMO_APP_SECRET else "(from NATIONAL_FEED_APP_SECRET)"
    print(f"national platform simulator: http://{args.host}:{args.port}\n"
          f"point the gateway at it with:\n"
          f"  NATIONAL_FEED_URL=http://{args.host}:{args.port}\n"
          f"  NATIONAL_FEED_APP_KEY={args.app_key}\n"
          f"  NATIONAL_FEED_APP_SECRET={shown}", file=sys.stderr)

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # not on this platform / thread
                pass
        await serve(args.host, args.port, app_key=args.app_key, app_secret=args.app_secret,
                    items=demo_items(args.items), stop_event=stop)

    try:
        asyncio.run(_run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
