"""Open311 API keys for the admins: issued and revoked from the console (as from the command line,
``hotline open311 key``), each action audited with who and from where.

    GET    /api/v1/console/open311-keys           every app's key: state and dates, never the key
    POST   /api/v1/console/open311-keys {name}    a new key, shown in this answer only (201)
    DELETE /api/v1/console/open311-keys/{name}    revoke it: the app's next POST is refused

The page ``/console/admin/open311-keys`` does the same through forms; a new key is shown on the
answer to the form (not a redirect, not a flash): it never rests in the session store.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from gateway.infra.ratelimit import client_address
from gateway.infra.resources import SESSIONS
from gateway.web.auth import ADMINS, flash, require_role, user_of
from gateway.web.console.api import P, api
from gateway.web.console.page_actions import page_action
from gateway.web.errors import ApiError
from gateway.web.json_io import json_response
from gateway.web.openapi import tagged
from gateway.web.present import iso
from gateway.web.staff_pages import render
from gateway.web.validation import RequestModel, read_model
from ticketing.db.models.open311 import Open311Key
from ticketing.open311 import keys

routes = web.RouteTableDef()
documented = tagged("坐席台：管理员")
PAGE = "/console/admin/open311-keys"


def key_item(row: Open311Key) -> dict[str, Any]:
    return {"name": row.name, "active": row.revoked_at is None, "created_by": row.created_by,
            "created_at": iso(row.created_at), "revoked_at": iso(row.revoked_at),
            "last_used_at": iso(row.last_used_at)}


class NewKey(RequestModel):
    name: str = Field(min_length=2, max_length=64, description="应用名称（小写字母、数字、点、下划线、连字符）")


class KeyList(BaseModel):
    keys: list[dict[str, Any]]


class IssuedKeyResponse(BaseModel):
    name: str
    key: str = Field(description="API 密钥：只在此次返回中出现，系统只保存其摘要")


async def _listed(request: web.Request) -> list[Open311Key]:
    async with request.config_dict[SESSIONS]() as session:
        return await keys.listed(session)


async def _issue(request: web.Request, name: str) -> keys.IssuedKey:
    async with request.config_dict[SESSIONS]() as session, session.begin():
        return await keys.issue(session, name, actor=user_of(request).username, ip=client_address(request))


async def _revoke(request: web.Request, name: str) -> Open311Key:
    async with request.config_dict[SESSIONS]() as session, session.begin():
        row = await keys.revoke(session, name, actor=user_of(request).username, ip=client_address(request))
    if row is None:
        raise ApiError(404, "not_found", f"没有应用 {name} 的有效密钥")
    return row


@routes.get(f"{P}/open311-keys")
@documented("Open311 接口密钥列表（不含密钥本身）", responses={200: ("列表", KeyList)})
@api(*ADMINS)
async def list_keys(request: web.Request) -> web.Response:
    return json_response({"keys": [key_item(row) for row in await _listed(request)]})


@routes.post(f"{P}/open311-keys")
@documented("为第三方应用签发 Open311 接口密钥（密钥只返回这一次；已吊销的应用可重新签发）", body=NewKey,
            responses={201: ("已签发", IssuedKeyResponse), 400: "应用名称无效", 409: "该应用已有有效密钥"})
@api(*ADMINS)
async def issue_key(request: web.Request) -> web.Response:
    body = await read_model(request, NewKey)
    issued = await _issue(request, body.name)
    response = json_response({"name": issued.name, "key": issued.key}, status=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.delete(P + "/open311-keys/{name}")
@documented("吊销应用的 Open311 接口密钥（立即生效）", responses={200: ("已吊销", KeyList), 404: "没有有效密钥"})
@api(*ADMINS)
async def revoke_key(request: web.Request) -> web.Response:
    row = await _revoke(request, request.match_info["name"])
    return json_response({"keys": [key_item(row)]})


@routes.get(PAGE)
@require_role(*ADMINS)
async def keys_page(request: web.Request) -> web.Response:
    return await render(request, "console/admin_open311_keys.html", {"nav": "open311_keys",
                                                                     "keys": await _listed(request), "issued": None})


@routes.post(PAGE)
@require_role(*ADMINS)
@page_action
async def keys_issue(request: web.Request) -> web.Response:
    form = await request.post()
    issued = await _issue(request, str(form.get("name", "")).strip())
    response = await render(request, "console/admin_open311_keys.html",
                            {"nav": "open311_keys", "keys": await _listed(request), "issued": issued})
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post(PAGE + "/{name}/revoke")
@require_role(*ADMINS)
@page_action
async def keys_revoke(request: web.Request) -> web.Response:
    row = await _revoke(request, request.match_info["name"])
    await flash(request, f"已吊销应用 {row.name} 的 Open311 接口密钥")
    raise web.HTTPSeeOther(PAGE)
