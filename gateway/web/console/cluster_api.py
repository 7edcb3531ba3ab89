"""并单 (duplicate clustering) for the operators: a ticket's likely duplicates, the current clusters
of open tickets, and merging a cluster into its main ticket in one action.  The functions here
serve the pages (:mod:`gateway.web.console.cluster_pages`) and the JSON API below alike.

    GET  /api/v1/console/clusters                         the current clusters, biggest first
    GET  /api/v1/console/tickets/{number}/duplicates      one ticket's likely duplicates
    POST /api/v1/console/clusters/merge {main, numbers}   merge the duplicates into the main ticket

The clusters are the worker's (:mod:`gateway.worker.clusters` keeps them up to date as tickets
arrive and close and stores them in Redis): a page reads them and the tickets they name, nothing
more.  A ticket's duplicates are asked of the console sub-app's index (``DUPLICATE_FINDER``: one per
process, caught up every ``REFRESH_SECONDS`` and at once after a merge here); the same index gives
the clusters only while no worker has stored any (:mod:`ticketing.duplicates.finder`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from gateway.infra.analytics_keys import clusters_key
from gateway.infra.resources import DIRECTORY, KEYS, REDIS, SESSIONS, SETTINGS
from gateway.web.auth import OPERATORS, actor_of
from gateway.web.console.actions import Notices
from gateway.web.console.api import READERS, api
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.present import Labels, iso, local
from gateway.web.validation import RequestModel, read_model
from ticketing.accounts.roles import Actor
from ticketing.db.models.tickets import Entry, Ticket
from ticketing.duplicates.finder import Candidate, Cluster, DuplicateFinder, Suggestion, resolve_clusters
from ticketing.duplicates.live import StoredCluster
from ticketing.duplicates.merging import MAX_MERGE, merge_into_main
from ticketing.tickets import claims
from ticketing.tickets.masking import mask_contacts_in_text

routes = web.RouteTableDef()
documented = tagged("坐席台：并单")
P = "/api/v1/console"
REFRESH_SECONDS = 30.0
EXCERPT_CHARS = 120

DUPLICATE_FINDER: web.AppKey[DuplicateFinder] = web.AppKey("duplicate_finder", DuplicateFinder)
Config = Mapping[Any, Any]


def setup_duplicates(app: web.Application, root: web.Application) -> None:
    app[DUPLICATE_FINDER] = DuplicateFinder(days=root[SETTINGS].duplicate_days, refresh_seconds=REFRESH_SECONDS)


# --------------------------------------------------------------------------- presenting

def candidate_item(candidate: Candidate, labels: Labels, score: float | None = None) -> dict[str, Any]:
    text = mask_contacts_in_text(candidate.text) or ""
    return {
        "ticket_no": candidate.number, "title": mask_contacts_in_text(candidate.title),
        "excerpt": text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else ""),
        "channel": candidate.channel, "channel_label": labels.of("channel", candidate.channel),
        "status": candidate.status, "status_label": labels.of("status", candidate.status),
        "region": candidate.region, "region_label": labels.of("region", candidate.region) if candidate.region else "",
        "department": candidate.department,
        "department_label": labels.of("department", candidate.department) if candidate.department else "",
        "created_at": iso(candidate.created_at), "created_local": local(candidate.created_at),
        "mergeable": candidate.mergeable, "score": score,
    }


def suggestion_item(suggestion: Suggestion, labels: Labels) -> dict[str, Any]:
    return candidate_item(suggestion.candidate, labels, suggestion.score)


def cluster_item(cluster: Cluster, labels: Labels) -> dict[str, Any]:
    return {"main": candidate_item(cluster.main, labels), "size": cluster.size,
            "others": [suggestion_item(s, labels) for s in cluster.others],
            "mergeable": [s.candidate.number for s in cluster.others if s.candidate.mergeable]}


# --------------------------------------------------------------------------- actions

async def ticket_duplicates(config: Config, number: str) -> tuple[Ticket, list[Suggestion]]:
    async with config[SESSIONS]() as session:
        ticket = await claims.get_ticket(session, number)
        first = await session.scalar(select(Entry.text).where(Entry.ticket_id == ticket.id, Entry.author == "citizen")
                                     .order_by(Entry.id).limit(1))
        found = await config[DUPLICATE_FINDER].similar_to(session, ticket, first or "")
    return ticket, found


async def stored_clusters(config: Config) -> list[StoredCluster] | None:
    """The worker's latest clusters, or None when it has stored none (not started, or stopped long ago)."""
    raw = await config[REDIS].get(clusters_key(config[KEYS]))
    if not raw:
        return None
    return [StoredCluster.from_json(item) for item in json.loads(raw)["clusters"]]


async def current_clusters(config: Config) -> list[Cluster]:
    stored = await stored_clusters(config)
    async with config[SESSIONS]() as session:
        if stored is None:
            return await config[DUPLICATE_FINDER].clusters(session)
        return await resolve_clusters(session, stored)


async def merge_cluster(config: Config, actor: Actor, main: str, numbers: list[str]) -> tuple[Ticket, list[Ticket]]:
    async with config[SESSIONS]() as session, session.begin():
        target, merged = await merge_into_main(session, main, numbers, actor)
    config[DUPLICATE_FINDER].invalidate()
    notices = Notices(console=[{"type": "updated", "ticket_no": t.number, "by": actor.username, "what": "merge",
                                "status": t.status, "channel": t.channel} for t in merged])
    await notices.publish(config)
    return target, merged


# --------------------------------------------------------------------------- JSON API

class ClusterMerge(RequestModel):
    main: str = Field(min_length=1, max_length=32, description="主工单号：其余工单合并到这里")
    numbers: list[str] = Field(min_length=1, max_length=MAX_MERGE, description="要合并的重复工单号")


class DuplicateList(BaseModel):
    ticket_no: str
    duplicates: list[dict[str, Any]]


class ClusterList(BaseModel):
    clusters: list[dict[str, Any]]


class MergeResult(BaseModel):
    main: str
    merged: list[str]


@routes.get(P + "/clusters")
@documented("当前可能重复的工单群（同一地点同一问题），主工单在前", responses={200: ("工单群", ClusterList)})
@api(*READERS)
async def clusters(request: web.Request) -> web.Response:
    labels = Labels(request.config_dict[DIRECTORY])
    found = await current_clusters(request.config_dict)
    return json_response({"clusters": [cluster_item(c, labels) for c in found]})


@routes.get(P + "/tickets/{number}/duplicates")
@documented("一件工单可能重复的工单，最相似的在前", responses={200: ("可能重复的工单", DuplicateList), 404: "未找到"})
@api(*READERS)
async def duplicates(request: web.Request) -> web.Response:
    labels = Labels(request.config_dict[DIRECTORY])
    ticket, found = await ticket_duplicates(request.config_dict, request.match_info["number"])
    return json_response({"ticket_no": ticket.number, "duplicates": [suggestion_item(s, labels) for s in found]})


@routes.post(P + "/clusters/merge")
@documented("并单：把重复工单一次合并到主工单（答复将送达每一位群众）", body=ClusterMerge,
            responses={200: ("合并结果", MergeResult), 409: "状态不允许或已被他人处理"})
@api(*OPERATORS)
async def merge(request: web.Request) -> web.Response:
    body = await read_model(request, ClusterMerge)
    main, merged = await merge_cluster(request.config_dict, actor_of(request), body.main, body.numbers)
    return json_response({"main": main.number, "merged": [t.number for t in merged]})
