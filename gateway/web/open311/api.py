"""The GeoReport v2 endpoints under ``/open311/v2/``: discovery, services, service requests
(GET, and POST with an app's API key through the intake stream) and tokens.

A POST is answered once the request is on the intake stream — like every channel's 202 — with a
``token``: the worker makes the ticket shortly after, and ``tokens/{token}.json`` then gives its
number (``service_request_id``; null until then).  The token is remembered in Redis for
``TOKEN_DAYS`` so an unknown token (404) is told apart from one not yet processed.
"""

from __future__ import annotations

import logging
import urllib.parse
from datetime import datetime

from aiohttp import web
from redis.exceptions import RedisError

from config.local_time import LOCAL_TZ
from connectors import http_body
from connectors.base import IntakeUnavailable
from connectors.open311 import Open311InputError, Open311Settings, parse_service_request
from connectors.open311.inbound import is_token
from gateway.infra.metrics import METRICS
from gateway.infra.ratelimit import RateLimiter, client_address
from gateway.infra.resources import DIRECTORY, KEYS, REDIS, SESSIONS, SETTINGS
from gateway.infra.stream import STREAM
from gateway.web.audiences import Config
from gateway.web.open311 import texts
from gateway.web.open311.formats import SERVICE_REQUESTS, SERVICES, render_list, render_object
from ticketing.open311 import keys, public
from ticketing.open311.public import RequestQuery

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

V2 = "/open311/v2"
FORMAT = "{format:json|xml}"
TOKEN_DAYS = 7
MAX_IDS = 100
CHANGESET = "2026-12-02T00:00:00+08:00"


def _settings(config: Config) -> Open311Settings:
    return Open311Settings.from_settings(config[SETTINGS])


def _token_key(config: Config, token: str) -> str:
    return config[KEYS].key("open311", "token", token)


async def _allow_read(request: web.Request) -> None:
    config = request.config_dict
    limiter = RateLimiter(config[REDIS], config[KEYS])
    if not await limiter.allow("open311-read", client_address(request), _settings(config).reads_per_minute):
        raise Open311InputError(429, texts.RATE_LIMITED)


# --------------------------------------------------------------------------- discovery, services

@routes.get(f"{V2}/discovery.{FORMAT}")
async def discovery(request: web.Request) -> web.Response:
    await _allow_read(request)
    base = request.config_dict[SETTINGS].public_url + V2
    return render_object(request.match_info["format"], "discovery", {
        "changeset": CHANGESET,
        "contact": texts.CONTACT,
        "key_service": texts.KEY_SERVICE,
        "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                       "changeset": CHANGESET, "type": "production",
                       "formats": ["application/json", "text/xml"]}],
    })


@routes.get(f"{V2}/services.{FORMAT}")
async def services(request: web.Request) -> web.Response:
    await _allow_read(request)
    items = [{"service_code": s.service_code, "service_name": s.service_name, "description": s.description,
              "metadata": s.metadata, "type": s.type, "keywords": s.keywords, "group": s.group}
             for s in public.services(request.config_dict[DIRECTORY])]
    return render_list(request.match_info["format"], SERVICES, items)


# --------------------------------------------------------------------------- service requests

def _date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        # An unencoded "+08:00" in a query string arrives as " 08:00".
        value = datetime.fromisoformat(raw.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise Open311InputError(400, texts.INVALID_DATE) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


@routes.get(f"{V2}/requests.{FORMAT}")
async def list_requests(request: web.Request) -> web.Response:
    await _allow_read(request)
    query = request.query
    numbers = tuple(n.upper() for n in _list(query.get("service_request_id")))
    if len(numbers) > MAX_IDS:
        raise Open311InputError(400, texts.TOO_MANY_IDS)
    statuses = _list(query.get("status"))
    if any(s not in ("open", "closed") for s in statuses):
        raise Open311InputError(400, texts.INVALID_STATUS)
    wanted = RequestQuery(numbers=numbers, service_codes=_list(query.get("service_code")),
                          start=_date(query.get("start_date")), end=_date(query.get("end_date")), statuses=statuses)
    config = request.config_dict
    async with config[SESSIONS]() as session:
        items = await public.find_requests(session, config[DIRECTORY], wanted)
    return render_list(request.match_info["format"], SERVICE_REQUESTS, items)


@routes.get(V2 + "/requests/{number:[A-Za-z0-9-]{1,32}}." + FORMAT)
async def one_request(request: web.Request) -> web.Response:
    await _allow_read(request)
    config = request.config_dict
    async with config[SESSIONS]() as session:
        items = await public.find_requests(session, config[DIRECTORY],
                                           RequestQuery(numbers=(request.match_info["number"].upper(),)))
    if not items:
        raise Open311InputError(404, texts.REQUEST_NOT_FOUND)
    return render_list(request.match_info["format"], SERVICE_REQUESTS, items)


async def _form(request: web.Request, max_bytes: int) -> dict[str, list[str]]:
    if request.content_type not in ("application/x-www-form-urlencoded", ""):
        raise Open311InputError(400, texts.FORM_REQUIRED)
    try:
        raw = await http_body.read_body(request, max_bytes=max_bytes)
    except http_body.BodyRefused:
        raise Open311InputError(413, texts.BODY_TOO_LARGE) from None
    try:
        text = raw.decode("utf-8")
        return urllib.parse.parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise Open311InputError(400, texts.FORM_REQUIRED) from None


@routes.post(f"{V2}/requests.{FORMAT}")
async def create_request(request: web.Request) -> web.Response:
    config = request.config_dict
    settings = _settings(config)
    fields = await _form(request, settings.max_form_bytes)
    key = (fields.pop("api_key", None) or [request.query.get("api_key", "")])[0]
    async with config[SESSIONS]() as session, session.begin():
        app_name = await keys.app_of(session, key)
    if app_name is None:
        config[METRICS].rejected.labels("open311", "api_key").inc()
        raise Open311InputError(403, texts.API_KEY_REQUIRED)
    limiter = RateLimiter(config[REDIS], config[KEYS])
    if not await limiter.allow("open311-post", app_name, settings.posts_per_minute):
        raise Open311InputError(429, texts.RATE_LIMITED)
    message = parse_service_request(fields, client=app_name, services=config[DIRECTORY].department_codes,
                                    max_description_chars=settings.max_description_chars)
    try:
        await config[REDIS].set(_token_key(config, message.native_id), app_name, ex=TOKEN_DAYS * 86400)
        await config[STREAM].publish(message)
    except (IntakeUnavailable, RedisError, OSError):
        log.warning("open311 request of %s not accepted: the intake stream is unavailable", app_name)
        raise Open311InputError(503, texts.INTAKE_UNAVAILABLE) from None
    config[METRICS].accepted.labels("open311").inc()
    return render_list(request.match_info["format"], SERVICE_REQUESTS,
                       [{"token": message.native_id, "service_notice": texts.SERVICE_NOTICE, "account_id": None}],
                       status=202)


@routes.get(V2 + "/tokens/{token:[0-9a-f]{32}}." + FORMAT)
async def token(request: web.Request) -> web.Response:
    await _allow_read(request)
    config = request.config_dict
    value = request.match_info["token"]
    if not is_token(value):
        raise Open311InputError(404, texts.TOKEN_NOT_FOUND)
    async with config[SESSIONS]() as session:
        number = await public.number_of_token(session, value)
    if number is None and not await config[REDIS].exists(_token_key(config, value)):
        raise Open311InputError(404, texts.TOKEN_NOT_FOUND)
    return render_list(request.match_info["format"], SERVICE_REQUESTS,
                       [{"service_request_id": number, "token": value}])
