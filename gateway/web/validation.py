"""Request bodies read into pydantic models: the model that validates a body is the one the API
document shows (:mod:`gateway.web.openapi`), so a limit cannot differ between the two.

A refused body is the API's usual JSON error.  The code and the Chinese message come from the
model's ``refusals`` (keyed ``"field:error_type"``, ``"*:error_type"`` or ``"field"``), else from the kind of error:
an unknown field, a text too long (413), or an invalid field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from gateway.web.errors import ApiError
from gateway.web.json_io import MAX_JSON_BYTES, read_json_object

Model = TypeVar("Model", bound="RequestModel")


class RequestModel(BaseModel):
    """A JSON request body: unknown fields are refused, as the hand-written checks did, and
    values are taken as the JSON types they are (strict): ``"false"`` is not a boolean, so
    ``{"active": "false"}`` is refused instead of guessed at."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # "field:error_type" or "field" -> (HTTP status, error code, message)
    refusals: ClassVar[dict[str, tuple[int, str, str]]] = {}


def refusal(model: type[RequestModel], error: ErrorDetails) -> ApiError:
    field = ".".join(str(part) for part in error["loc"] if isinstance(part, str)) or "body"
    kind = error["type"]
    known = (model.refusals.get(f"{field}:{kind}") or model.refusals.get(f"*:{kind}")
             or model.refusals.get(field))
    if known is not None:
        return ApiError(*known)
    if kind == "extra_forbidden":
        return ApiError(400, "unknown_field", f"不支持的字段：{field}")
    if kind == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return ApiError(413, f"{field}_too_long", f"{field} 不能超过 {limit} 个字")
    if kind == "missing":
        return ApiError(400, f"missing_{field}", f"请填写 {field}")
    return ApiError(400, f"invalid_{field}", f"{field} 取值无效")


def parse_model(model: type[Model], payload: Any) -> Model:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise refusal(model, exc.errors()[0]) from None


async def read_model(request: web.Request, model: type[Model], *, max_bytes: int = MAX_JSON_BYTES) -> Model:
    """The JSON body as ``model`` (an empty body is an empty object: models with defaults accept it)."""
    return parse_model(model, await read_json_object(request, max_bytes=max_bytes))


# Row ids are 32-bit in the database: a bigger number in a path names nothing (404), and a query
# number outside its range is refused (400), before the driver would choke on it.
MAX_ROW_ID = 2**31 - 1


def path_id(request: web.Request, name: str) -> int:
    """The id in the path (routes match it with ``\\d+``); 404 when no row can have it."""
    value = int(request.match_info[name])
    if value > MAX_ROW_ID:
        raise web.HTTPNotFound()
    return value


def query_int(query: Mapping[str, str], name: str, default: int, *, lowest: int, highest: int) -> int:
    """An integer query parameter in ``lowest``–``highest`` (default when absent), else 400."""
    raw = (query.get(name) or "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"-?\d{1,12}", raw) or not lowest <= int(raw) <= highest:
        raise ApiError(400, f"invalid_{name}", f"{name} 必须是 {lowest}–{highest} 的整数")
    return int(raw)
