"""Server-rendered pages: one Jinja2 environment (autoescaped) and the vendored static files."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from gateway.web.security import LazyCsrfToken

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
    env.filters["survey_links"] = survey_links
    app.router.add_static("/static/", STATIC, name="static", append_version=True)


# The 一事一评 link inside an answer's text (the only link the platform writes into citizens' replies).
SURVEY_LINK = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+/survey/[0-9]+\.[A-Za-z0-9_=-]+")


def survey_links(text: str) -> Markup:
    """Escape ``text`` and make its survey links clickable (nothing else becomes markup)."""
    out, last = [], 0
    for match in SURVEY_LINK.finditer(text or ""):
        url = match.group(0)
        out += [escape(text[last:match.start()]), Markup('<a href="{0}" rel="noopener">{0}</a>').format(url)]
        last = match.end()
    out.append(escape((text or "")[last:]))
    return Markup("").join(out)


async def _globals(request: web.Request) -> dict:
    return {"request": request, "csrf_token": LazyCsrfToken(request)}
