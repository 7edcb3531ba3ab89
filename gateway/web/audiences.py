"""One aiohttp sub-app per audience, each mounted on the path prefixes it owns.

An audience has more than one prefix (the console's pages under ``/console`` and its API under
``/api/v1/console``), which ``app.add_subapp(prefix, …)`` cannot express: it takes one prefix and
rewrites every route under it.  aiohttp's ``add_domain`` mounts a sub-app behind a *rule*
(``MatchedSubAppResource``) and leaves its routes as written; ``PathRule`` is such a rule, matching
paths instead of the Host header.  Which audience a path belongs to is decided by one table
(``PREFIXES``, longest prefix wins), so the rules never overlap and the order of mounting does not
matter.

A sub-app's handler reads the shared resources through ``request.config_dict`` (its own keys, then
the root's); a sub-app's background work gets the same chain from :func:`chain`.  aiohttp starts a
sub-app after the root's cleanup contexts (the resources) and shuts it down before it cleans them up,
so work run through :func:`lifespan` always finds the resources open.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aiohttp import ChainMapProxy, web
from aiohttp.web_urldispatcher import AbstractRoute, AbstractRuleMatching, MatchedSubAppResource

# Where shared resources are read from: ``request.config_dict``, a sub-app's chain, or the root app.
Config = Mapping[Any, Any]

CITIZEN, CONSOLE, ADMIN, DESK, OPEN311 = "citizen", "console", "admin", "desk", "open311"

# Path prefix -> audience.  A prefix owns itself and everything below it at a "/" boundary; "/" is
# only the landing page.  The console's training-suggestion page and API stay at their console URLs
# but belong to the admins who review suggestions (one review path, in the admin sub-app).
PREFIXES: dict[str, str] = {
    "/": CITIZEN,
    "/chat": CITIZEN,
    "/message": CITIZEN,
    "/progress": CITIZEN,
    "/survey": CITIZEN,
    "/api/v1/tickets": CITIZEN,
    "/api/v1/surveys": CITIZEN,
    "/console": CONSOLE,
    "/api/v1/console": CONSOLE,
    "/console/admin/suggestions": ADMIN,
    "/api/v1/console/training-suggestions": ADMIN,
    "/admin": ADMIN,
    "/api/v1/admin": ADMIN,
    "/desk": DESK,
    "/api/v1/desk": DESK,
    "/open311": OPEN311,
}


# Longest first: the first prefix that matches is the longest.
_BY_LENGTH = sorted((prefix for prefix in PREFIXES if prefix != "/"), key=len, reverse=True)


def audience_of(path: str) -> str | None:
    """The audience owning ``path`` (longest matching prefix), or None for the root's own routes."""
    # Cached: most requests ask for a few paths, and a path's audience never changes.  Only short
    # paths, so that clients' made-up paths cannot fill memory (4,096 × 200 characters at most).
    return _cached_audience(path) if len(path) <= 200 else _audience(path)


def _audience(path: str) -> str | None:
    if path == "/":
        return PREFIXES["/"]
    for prefix in _BY_LENGTH:
        if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
            return PREFIXES[prefix]
    return None


_cached_audience = functools.lru_cache(maxsize=4096)(_audience)


class PathRule(AbstractRuleMatching):
    """Matches the requests whose path belongs to one audience."""

    def __init__(self, audience: str) -> None:
        self.audience = audience

    async def match(self, request: web.Request) -> bool:
        # aiohttp asks every mounted audience's rule before the root's own routes; the cache makes
        # each question one dict lookup (a request's mapping costs more: a miss raises KeyError).
        return audience_of(request.path) == self.audience

    def get_info(self) -> dict[str, Any]:
        return {"audience": self.audience}

    @property
    def canonical(self) -> str:
        return "|".join(p for p, who in PREFIXES.items() if who == self.audience)


def mount(root: web.Application, audience: str, sub: web.Application) -> MatchedSubAppResource:
    """``root.add_domain`` with a path rule: aiohttp keeps the mounting step that ``add_domain`` and
    ``add_subapp`` share private (``_add_subapp``: resource, signals, freezing), so we call it the way
    ``add_domain`` does rather than copy it."""
    return root._add_subapp(functools.partial(MatchedSubAppResource, PathRule(audience), sub), sub)


def sub_app(root: web.Application, audience: str) -> web.Application:
    """The sub-app mounted for ``audience`` (tests tune a sub-app's settings through it)."""
    for resource in root.router.resources():
        if isinstance(resource, MatchedSubAppResource) and resource.get_info()["rule"].get_info().get(
                "audience") == audience:
            return resource.get_info()["app"]
    raise LookupError(audience)


def chain(sub: web.Application, root: web.Application) -> ChainMapProxy:
    """What ``request.config_dict`` is inside ``sub``, for work outside a request."""
    return ChainMapProxy((sub, root))


def lifespan(sub: web.Application, root: web.Application,
             context: Callable[[ChainMapProxy], contextlib.AbstractAsyncContextManager[Any]]) -> None:
    """Enter ``context`` when the sub-app starts and leave it when the sub-app shuts down.

    Unlike the sub-app's own ``cleanup_ctx`` (which aiohttp closes *after* the root's, that is after
    the Redis client and the database engine are gone), shutdown runs before any cleanup: a task
    stopped here never meets a closed resource."""
    exits = contextlib.AsyncExitStack()

    async def start(_: web.Application) -> None:
        await exits.enter_async_context(context(chain(sub, root)))

    async def stop(_: web.Application) -> None:
        await exits.aclose()

    sub.on_startup.append(start)
    sub.on_shutdown.append(stop)


def all_routes(root: web.Application) -> Iterator[AbstractRoute]:
    """The root's routes and every mounted sub-app's (the API document and the role table read them)."""
    for resource in root.router.resources():
        if isinstance(resource, MatchedSubAppResource):
            yield from resource.get_info()["app"].router.routes()
        else:
            yield from resource
