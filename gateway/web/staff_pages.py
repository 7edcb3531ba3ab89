"""The staff pages' frame (console and admin): the signed-in user, the shift, flashes and labels."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from gateway.infra.resources import DIRECTORY
from gateway.web.auth import current_user, pop_flashes
from gateway.web.present import Labels, local
from ticketing.supervision import shifts
from ticketing.tickets.lifecycle import STATUS_LABELS


async def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200,
                 keep_flashes: bool = False) -> web.Response:
    user = await current_user(request)
    directory = request.config_dict[DIRECTORY]
    base = {
        "user": user,
        "shift": shifts.shift_status(directory),
        # Fragments (htmx swaps) must not swallow the messages meant for the next full page.
        "flashes": [] if keep_flashes or template.startswith("console/_") else await pop_flashes(request),
        "labels": Labels(directory),
        "directory": directory,
        "status_labels": {s.value: label for s, label in STATUS_LABELS.items()},
        "local": local,
        "nav": context.pop("nav", ""),
    }
    base.update(context)
    response = aiohttp_jinja2.render_template(template, request, base, status=status)
    response.headers["Cache-Control"] = "no-store"  # pages carry citizens' data
    return response
