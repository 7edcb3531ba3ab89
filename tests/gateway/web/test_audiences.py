"""One sub-app per audience: which paths each owns, and sessions only where people sign in."""

from __future__ import annotations

import pytest

from gateway.web.audiences import ADMIN, CITIZEN, CONSOLE, OPEN311, audience_of, sub_app
from gateway.web.auth import STORAGE, session_middleware


@pytest.mark.parametrize(("path", "audience"), [
    ("/", CITIZEN), ("/chat", CITIZEN), ("/message/receipt/lm-1", CITIZEN), ("/progress", CITIZEN),
    ("/api/v1/tickets/PDS1", CITIZEN),
    ("/console", CONSOLE), ("/console/tickets/PDS1", CONSOLE), ("/api/v1/console/tickets", CONSOLE),
    ("/console/admin/users", CONSOLE),
    ("/admin/nlu", ADMIN), ("/api/v1/admin/dead-letters", ADMIN), ("/console/admin/suggestions", ADMIN),
    ("/api/v1/console/training-suggestions/3", ADMIN),
    ("/healthz", None), ("/api/v1/nlu/parse", None), ("/api/v1/web/messages", None), ("/static/x.css", None),
    ("/consoles", None), ("/chatter", None),
    ("/open311/v2/requests.json", OPEN311), ("/open311/v2/tokens/ab.xml", OPEN311), ("/open3110", None),
])
def test_each_path_belongs_to_one_audience_or_to_the_root(path, audience):
    assert audience_of(path) == audience


async def test_sessions_exist_only_in_the_console_and_admin_sub_apps(make_client):
    client = await make_client(run_worker=False)
    for audience, has_sessions in ((CITIZEN, False), (CONSOLE, True), (ADMIN, True)):
        app = sub_app(client.app, audience)
        assert (session_middleware in app.middlewares) is has_sessions
        assert (STORAGE in app) is has_sessions  # the storage is built when the sub-app starts
    assert session_middleware not in client.app.middlewares
    page = await client.get("/chat")
    assert page.status == 200 and "hotline_console" not in page.cookies
