"""Server-rendered pages: one Jinja2 environment (autoescaped) and the vendored static files."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from gateway.web.security import csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "xml", "j2"], default=True),
        context_processors=[_globals],
        undefined=jinja2.StrictUndefined,
    )
    env.globals["static"] = lambda path: f"/static/{path}"
    app.router.add_static("/static/", STATIC, name="static", append_version=True)


async def _globals(request: web.Request) -> dict:
    return {"request": request, "csrf_token": csrf_token(request)}
