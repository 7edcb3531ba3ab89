"""What every console form does when the action is refused: the reason as a message on the page
the operator comes back to (POST → 303 → GET), and where "back" may safely point."""

from __future__ import annotations

import functools
from urllib.parse import urlparse

from aiohttp import web

from gateway.web.auth import Handler, flash
from gateway.web.errors import ApiError
from ticketing.accounts.users import AccountError
from ticketing.errors import ConsoleError, IllegalTransition

# Where a refused form goes back to when the browser sent no Referer.
BACK_PAGES = (("/console/admin/users", "/console/admin/users"),
              ("/console/admin/open311-keys", "/console/admin/open311-keys"),
              ("/console/admin/suggestions", "/console/admin/suggestions"),
              ("/console/canned", "/console/canned"), ("/console/supervisor", "/console/supervisor"),
              ("/console/intake", "/console/intake"))
HOME_BY_ROLE = {"operator": "/console", "supervisor": "/console", "admin": "/console/admin/users",
                "callback": "/console/callbacks", "handler": "/desk", "dispatcher": "/console/loop",
                "leader": "/console/analytics"}


def safe_next(value: str | None, default: str) -> str:
    # Only same-site paths: an attacker's link must not bounce a fresh login elsewhere.
    if value and value.startswith(("/console", "/admin/", "/desk")) and not value.startswith("//") and "\\" not in value:
        return value
    return default


def page_action(handler: Handler) -> Handler:
    """Turn refused actions into a message on the page the operator comes back to."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ConsoleError, ApiError) as exc:
            await flash(request, exc.message, "error")
        except IllegalTransition as exc:
            await flash(request, str(exc), "error")
        except AccountError as exc:
            await flash(request, str(exc), "error")
        number = request.match_info.get("number")
        if number:
            raise web.HTTPSeeOther(f"/console/tickets/{number}")
        ref = urlparse(request.headers.get("Referer", ""))
        fallback = next((page for prefix, page in BACK_PAGES if request.path.startswith(prefix)), "/console")
        raise web.HTTPSeeOther(safe_next(ref.path + (f"?{ref.query}" if ref.query else ""), fallback))

    return wrapper


