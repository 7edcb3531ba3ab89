"""The operator console: the six network-hotline seats review the bot's hand-offs.

Pages under ``/console/``, the same actions as JSON under ``/api/v1/console/``, the live
queue at ``/console/events`` (SSE).  One sub-app (:mod:`gateway.web.audiences`) with the
console session; the round-robin assigner runs for the sub-app's lifetime.
"""

from __future__ import annotations

from aiohttp import web

from gateway.web.audiences import lifespan
from gateway.web.auth import use_sessions
from gateway.web.console import (
    analytics_api,
    analytics_pages,
    api,
    callback_api,
    callback_pages,
    cluster_api,
    cluster_pages,
    evaluation_api,
    evaluation_pages,
    events,
    loop_api,
    loop_pages,
    open311_admin,
    pages,
    team_api,
    team_pages,
)


def create_console_app(root: web.Application) -> web.Application:
    app = web.Application()
    use_sessions(app, root)
    lifespan(app, root, events.auto_assigner)
    cluster_api.setup_duplicates(app, root)
    for module in (api, team_api, evaluation_api, loop_api, pages, team_pages, evaluation_pages, loop_pages, events,
                   callback_api, callback_pages, cluster_api, cluster_pages, analytics_api, analytics_pages,
                   open311_admin):
        app.router.add_routes(module.routes)
    return app
