"""Open311 documents as JSON or XML, in the shapes of the GeoReport v2 examples.

JSON lists are bare arrays (``[{...}]``); XML wraps them in the spec's root elements —
``discovery``, ``services`` of ``service``, ``service_requests`` of ``request``, ``errors`` of
``error`` — with one child element per field (empty for a null value).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree

from aiohttp import web

JSON_TYPE = "application/json"
XML_TYPE = "text/xml"
# Root element and item element of each list document.
SERVICES = ("services", "service")
SERVICE_REQUESTS = ("service_requests", "request")
ERRORS = ("errors", "error")
# Nested lists inside the discovery document: list element -> item element.
_NESTED_ITEMS = {"endpoints": "endpoint", "formats": "format"}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ElementTree.Element, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        child = ElementTree.SubElement(element, name)
        if isinstance(value, Mapping):
            _fill(child, value)
        elif isinstance(value, list):
            for item in value:
                grandchild = ElementTree.SubElement(child, _NESTED_ITEMS.get(name, "item"))
                if isinstance(item, Mapping):
                    _fill(grandchild, item)
                else:
                    grandchild.text = _text(item)
        else:
            child.text = _text(value)


def _xml(root: ElementTree.Element, status: int) -> web.Response:
    body = ElementTree.tostring(root, encoding="unicode", xml_declaration=False)
    return web.Response(status=status, text='<?xml version="1.0" encoding="utf-8"?>\n' + body,
                        content_type=XML_TYPE, charset="utf-8")


def _json(value: Any, status: int) -> web.Response:
    return web.Response(status=status, text=json.dumps(value, ensure_ascii=False), content_type=JSON_TYPE,
                        charset="utf-8")


def render_list(fmt: str, shape: tuple[str, str], items: Sequence[Mapping[str, Any]], *,
                status: int = 200) -> web.Response:
    if fmt == "xml":
        root = ElementTree.Element(shape[0])
        for item in items:
            _fill(ElementTree.SubElement(root, shape[1]), item)
        return _xml(root, status)
    return _json(list(items), status)


def render_object(fmt: str, root_name: str, fields: Mapping[str, Any]) -> web.Response:
    if fmt == "xml":
        root = ElementTree.Element(root_name)
        _fill(root, fields)
        return _xml(root, 200)
    return _json(dict(fields), 200)


def render_error(fmt: str, status: int, description: str) -> web.Response:
    return render_list(fmt, ERRORS, [{"code": status, "description": description}], status=status)
