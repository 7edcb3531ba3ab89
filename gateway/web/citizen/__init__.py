"""The citizen pages: landing, web chat, 网民留言 (leave a message) and 办件查询 (progress).

Server-rendered (Jinja2, autoescaped) in Simplified Chinese; the chat page's live part is a
small vanilla script over the JSON API and its server-sent events.  ``setup_citizen(app)``
registers the routes; everything else is wired by :func:`gateway.app.create_app`.
"""

from gateway.web.citizen.pages import CITIZEN, CitizenConfig, setup_citizen

__all__ = ["CITIZEN", "CitizenConfig", "setup_citizen"]
