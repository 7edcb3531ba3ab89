"""The citizen pages: landing, web chat, 网民留言 (leave a message) and 办件查询 (progress).

Server-rendered (Jinja2, autoescaped) in Simplified Chinese; the chat page's live part is a
small vanilla script over the web channel's JSON API and its server-sent events.  One sub-app
(:mod:`gateway.web.audiences`), without sessions: a citizen never logs in.
"""

from __future__ import annotations

from aiohttp import web

from gateway.web.citizen import pages, progress_api, survey_pages
from gateway.web.citizen.pages import CITIZEN, CitizenConfig

__all__ = ["CITIZEN", "CitizenConfig", "create_citizen_app"]


def create_citizen_app(config: CitizenConfig | None = None) -> web.Application:
    app = web.Application()
    app[CITIZEN] = config or CitizenConfig()
    app.router.add_routes(pages.routes)
    app.router.add_routes(progress_api.routes)
    app.router.add_routes(survey_pages.routes)
    return app
