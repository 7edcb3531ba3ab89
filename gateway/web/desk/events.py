"""The desk's live updates: the SSE stream of the handler's own unit's topic.

The platform (new dispatches, reminders, 重办, review results, 督办单) and the desk's own actions
publish to ``desk_topic(unit)``; every handler of the unit follows it, and no other unit's."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.infra.replies import REPLIES
from gateway.infra.sse import relay
from gateway.web.auth import require_role, user_of
from ticketing.accounts.roles import UNIT_ROLES

routes = web.RouteTableDef()

SSE_EVENT = "desk"  # the page's hx-trigger="sse:desk"; the JSON says what happened


def _event_name(event: dict[str, Any]) -> str:
    return SSE_EVENT


@routes.get("/desk/events")
@require_role(*sorted(UNIT_ROLES))
async def desk_events(request: web.Request) -> web.StreamResponse:
    bus = request.config_dict[REPLIES]
    unit = user_of(request).unit
    if not unit:
        raise web.HTTPForbidden(text="账号未设置所属单位")
    return await relay(request, bus.subscribe(bus.desk_topic(unit)), name=_event_name)
