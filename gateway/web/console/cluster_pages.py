"""并单 pages: ``/console/clusters`` (the current clusters, each merged into its main ticket with one
button) and the "可能重复的工单" block of a ticket page (an htmx fragment the ticket page loads;
without JavaScript its link opens the same list as a page).  The forms post back and redirect,
like every console page, and call the same functions as the JSON API
(:mod:`gateway.web.console.cluster_api`)."""

from __future__ import annotations

from aiohttp import web

from gateway.infra.resources import DIRECTORY
from gateway.web.auth import OPERATORS, actor_of, flash, require_role
from gateway.web.console.api import READERS
from gateway.web.console.cluster_api import (
    cluster_item,
    current_clusters,
    merge_cluster,
    suggestion_item,
    ticket_duplicates,
)
from gateway.web.console.page_actions import page_action
from gateway.web.present import Labels
from gateway.web.staff_pages import render

routes = web.RouteTableDef()


@routes.get("/console/clusters")
@require_role(*READERS)
async def clusters_page(request: web.Request) -> web.Response:
    labels = Labels(request.config_dict[DIRECTORY])
    found = [cluster_item(c, labels) for c in await current_clusters(request.config_dict)]
    return await render(request, "console/clusters.html", {"clusters": found, "nav": "clusters",
                                                           "citizens": sum(c["size"] for c in found)})


@routes.get("/console/tickets/{number}/duplicates")
@require_role(*READERS)
async def ticket_duplicates_part(request: web.Request) -> web.Response:
    labels = Labels(request.config_dict[DIRECTORY])
    ticket, found = await ticket_duplicates(request.config_dict, request.match_info["number"])
    context = {"number": ticket.number, "status": ticket.status,
               "duplicates": [suggestion_item(s, labels) for s in found]}
    if request.headers.get("HX-Request") == "true":
        return await render(request, "console/_cluster_suggestions.html", context)
    return await render(request, "console/cluster_ticket.html", context)


@routes.post("/console/clusters/merge")
@require_role(*OPERATORS)
@page_action
async def merge(request: web.Request) -> web.Response:
    form = await request.post()
    main = str(form.get("main", ""))
    numbers = [str(n) for n in form.getall("numbers", [])]
    target, merged = await merge_cluster(request.config_dict, actor_of(request), main, numbers)
    await flash(request, f"已将 {len(merged)} 件重复工单合并到 {target.number}，答复将送达每一位群众")
    raise web.HTTPSeeOther(f"/console/tickets/{target.number}")
