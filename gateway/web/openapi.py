"""The OpenAPI 3.1 document (``/api/openapi.json``) generated from the routes the app serves, and a
browsable page rendered from it on the server (``/api/docs``; no CDN, no script).

Each handler carries its description (:func:`documented`): a summary, its query parameters, and
the pydantic models of its request body and responses, the same models that validate the body
(:mod:`gateway.web.validation`).  The roles come from the role check itself (``x-roles``), the
security scheme from how the handler authenticates.  A served ``/api/`` route without a
description still appears (marked ``x-undocumented``), so the document never silently omits one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.web.audiences import Config, all_routes
from gateway.web.auth import roles_of
from gateway.web.json_io import json_response
from gateway.web.models import ErrorResponse
from ticketing.accounts.roles import ROLE_LABELS as ACCOUNT_ROLE_LABELS

DOC_KEY: web.AppKey[dict[str, Any]] = web.AppKey("openapi_document", dict)
# One table of role names: the accounts' own (ticketing.db.models.accounts).
ROLE_LABELS = ACCOUNT_ROLE_LABELS
REF = "#/components/schemas/{model}"

# A body model, or a function of the app's config giving one (limits read from the settings).
BodySpec = type[BaseModel] | Callable[[Config], type[BaseModel]]
ResponseSpec = str | tuple[str, type[BaseModel]]
Handler = TypeVar("Handler", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    description: str = ""
    body: BodySpec | None = None
    body_type: str = "application/json"
    query: Mapping[str, str] = field(default_factory=dict)  # name -> description
    responses: Mapping[int, ResponseSpec] = field(default_factory=dict)

    def body_model(self, config: Config) -> type[BaseModel] | None:
        if self.body is None or isinstance(self.body, type):
            return self.body
        return self.body(config)


def documented(summary: str, *, tag: str, **details: Any) -> Callable[[Handler], Handler]:
    """Describe a handler in the API document (apply it outside the role check)."""

    def describe(handler: Handler) -> Handler:
        handler.openapi = Operation(summary, tag, **details)  # type: ignore[attr-defined]
        return handler

    return describe


def operation_of(handler: Any) -> Operation | None:
    return getattr(handler, "openapi", None)


def tagged(tag: str) -> Callable[..., Callable[[Handler], Handler]]:
    """``documented`` with a module's tag filled in."""

    def describe(summary: str, **details: Any) -> Callable[[Handler], Handler]:
        return documented(summary, tag=tag, **details)

    return describe


# --------------------------------------------------------------------------- building

SECURITY = {
    "console": [{"consoleSession": [], "csrfHeader": []}],
    "admin_token": [{"adminToken": []}, {"consoleSession": [], "csrfHeader": []}],
}
SECURITY_SCHEMES = {
    "consoleSession": {"type": "apiKey", "in": "cookie", "name": "hotline_console",
                       "description": "POST /api/v1/console/login 设置的会话 Cookie"},
    "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                   "description": "GET /api/v1/console/csrf 取得；非 GET 请求必带"},
    "adminToken": {"type": "http", "scheme": "bearer", "description": "HOTLINE_ADMIN_TOKEN"},
}
PATH_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


def _documented_path(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/metrics") or path.startswith("/wechat")


def _security(handler: Any) -> str | None:
    if getattr(handler, "admin_token", False):
        return "admin_token"
    return "console" if roles_of(handler) else None


def _parameters(canonical: str, op: Operation | None) -> list[dict[str, Any]]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "integer"} if regex == r"\d+" else {"type": "string"}}
              for name, regex in PATH_PARAM.findall(canonical)]
    for name, description in (op.query if op else {}).items():
        params.append({"name": name, "in": "query", "required": False, "description": description,
                       "schema": {"type": "string"}})
    return params


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path.removeprefix("/api/v1/")).replace("-", "_").replace(".", "_").split("/")
    return method + "_" + "_".join(w for w in words if w)


def _item(method: str, path: str, canonical: str, handler: Any, op: Operation | None, config: Config,
          models: dict[type[BaseModel], str]) -> dict[str, Any]:
    def ref(model: type[BaseModel], mode: str) -> dict[str, str]:
        models.setdefault(model, mode)
        return {"$ref": REF.format(model=model.__name__)}

    item: dict[str, Any] = {"tags": [op.tag if op else "其他"], "operationId": _operation_id(method, path),
                            "summary": op.summary if op else (handler.__doc__ or path).strip().splitlines()[0]}
    if op is None:
        item["x-undocumented"] = True
    elif op.description:
        item["description"] = op.description
    params = _parameters(canonical, op)
    if params:
        item["parameters"] = params
    body = op.body_model(config) if op else None
    responses: dict[str, Any] = {}
    if body is not None:
        item["requestBody"] = {"required": True, "content": {op.body_type: {"schema": ref(body, "validation")}}}
        responses["400"] = {"description": "参数错误"}
    for status, spec in (op.responses if op and op.responses else {200: "成功"}).items():
        if isinstance(spec, tuple):
            description, model = spec
            responses[str(status)] = {"description": description,
                                      "content": {"application/json": {"schema": ref(model, "serialization")}}}
        else:
            responses[str(status)] = {"description": spec}
    security = _security(handler)
    if security:
        item["security"] = SECURITY[security]
        responses.setdefault("401", {"description": "未登录或令牌无效"})
        responses.setdefault("403", {"description": "角色无权或 CSRF 校验失败"})
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            response.setdefault("content", {"application/json": {"schema": ref(ErrorResponse, "serialization")}})
    item["responses"] = dict(sorted(responses.items()))
    roles = roles_of(handler)
    if roles:
        item["x-roles"] = sorted(roles)
    return item


def build_document(app: web.Application, extra: Mapping[tuple[str, str], Operation] = {}) -> dict[str, Any]:
    """The document of every route ``app`` serves; ``extra`` describes handlers that are not ours
    (the channels'), by (method, path)."""
    paths: dict[str, dict[str, Any]] = {}
    models: dict[type[BaseModel], str] = {}
    tags: dict[str, None] = {}
    for route in all_routes(app):
        canonical = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "OPTIONS", "*") or not _documented_path(canonical):
            continue
        method, path = route.method.lower(), PATH_PARAM.sub(r"{\1}", canonical)
        op = operation_of(route.handler) or extra.get((method, path))
        item = _item(method, path, canonical, route.handler, op, app, models)
        tags.setdefault(item["tags"][0])
        paths.setdefault(path, {})[method] = item
    _, schemas = models_json_schema([(model, mode) for model, mode in models.items()], ref_template=REF)
    return {
        "openapi": "3.1.0",
        "info": {"title": "平顶山12345政务服务热线 受理网关 API", "version": "1.0.0",
                 "description": "群众渠道接口、办件查询、NLU，以及网络热线坐席台的全部操作。坐席台接口使用登录会话"
                                "（Cookie）和 X-CSRF-Token 请求头；错误统一为 {\"error\": {\"code\", \"message\"}}。"},
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in tags],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.get("$defs", {}).items())),
                       "securitySchemes": SECURITY_SCHEMES},
    }


# --------------------------------------------------------------------------- serving

def setup_openapi(app: web.Application, extra: Mapping[tuple[str, str], Operation] = {}) -> None:
    async def build_on_startup(app: web.Application) -> None:
        # At start-up every module and sub-app has registered its routes.
        app[DOC_KEY] = build_document(app, extra)

    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.on_startup.append(build_on_startup)


@documented("本文档（OpenAPI 3）", tag="运维", responses={200: "JSON"})
async def openapi_json(request: web.Request) -> web.Response:
    response = json_response(request.config_dict[DOC_KEY])
    response.headers["Access-Control-Allow-Origin"] = "*"  # a public description, no credentials
    return response


def _schema_text(schema: Any) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2)


@documented("本文档的浏览页面", tag="运维", responses={200: "HTML"})
async def docs_page(request: web.Request) -> web.Response:
    doc = request.config_dict[DOC_KEY]
    schemas = doc["components"]["schemas"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, methods in doc["paths"].items():
        for method, item in methods.items():
            body = item.get("requestBody", {}).get("content", {})
            body_schema = next(iter(body.values()), {}).get("schema") if body else None
            if body_schema and "$ref" in body_schema:
                body_schema = schemas.get(body_schema["$ref"].rsplit("/", 1)[-1], body_schema)
            groups.setdefault(item["tags"][0], []).append({
                "method": method.upper(), "path": path, "summary": item.get("summary", ""),
                "description": item.get("description", ""), "parameters": item.get("parameters", []),
                "body": _schema_text(body_schema) if body_schema else None,
                "responses": [(code, r.get("description", "")) for code, r in item["responses"].items()],
                "roles": [ROLE_LABELS.get(r, r) for r in item.get("x-roles", [])],
                "security": bool(item.get("security")), "undocumented": item.get("x-undocumented", False),
                "unavailable": None, "id": item.get("operationId", ""),
            })
    context = {"doc": doc, "groups": [(tag["name"], groups[tag["name"]]) for tag in doc["tags"]],
               "schemas": [(name, _schema_text(s)) for name, s in schemas.items()]}
    return aiohttp_jinja2.render_template("console/api_docs.html", request, context)
