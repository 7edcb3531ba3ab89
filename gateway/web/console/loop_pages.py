"""The dispatcher's desk as a page (交办督办台): six tabs with their counts, each list linking to
the ticket page, where the platform's moves (改派, 审核, 延期审批, 督办) are made."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from gateway.web.auth import flash, require_role
from gateway.web.console.forms import LOOP_TABS
from gateway.web.console.loop_api import DESK_ROLES, TAB_LABELS, desk
from gateway.web.errors import ApiError
from gateway.web.staff_pages import render

routes = web.RouteTableDef()


@routes.get("/console/loop")
@require_role(*DESK_ROLES)
async def loop_page(request: web.Request) -> web.Response:
    try:
        page = await desk(request.config_dict, request.query)
    except ApiError as exc:
        await flash(request, exc.message, "error")
        raise web.HTTPSeeOther("/console/loop") from None

    def link(offset: int) -> str:
        return "/console/loop?" + urlencode({"tab": page.tab, "offset": offset, "limit": page.limit})

    return await render(request, "console/loop.html", {
        "nav": "loop", "page": page, "tabs": [(tab, TAB_LABELS[tab]) for tab in LOOP_TABS],
        "prev_link": link(max(0, page.offset - page.limit)) if page.offset > 0 else None,
        "next_link": link(page.offset + page.limit) if page.offset + page.limit < page.total else None,
    })
