"""Every console and admin route × every role: who gets in, who is refused.

The table is the specification; the first test fails when a route is added without a row
here (or a handler's roles differ from its row), the second checks real responses.
"""

from __future__ import annotations

import pytest

from gateway.web.audiences import all_routes
from gateway.web.auth import roles_of

OPS = frozenset({"operator", "supervisor"})
SUP = frozenset({"supervisor"})
ADM = frozenset({"admin"})
ANY = frozenset({"operator", "supervisor", "admin"})
EVAL = frozenset({"dispatcher", "supervisor"})
CB = frozenset({"callback", "supervisor"})
HANDLER = frozenset({"handler"})
PUBLIC = None
# The handling loop (issue #13): the dispatch-and-supervision seats read the queue and tickets,
# dispatch, review and close returned tickets; extensions, deadlines and 督办 are theirs and the
# supervisors' alone.
STAFF = ANY | {"dispatcher", "callback", "leader"}  # every platform seat signs in and out of the console
# The analytics (issue #17): supervisors, admins and the read-only leaders.
ANALYTICS = frozenset({"supervisor", "admin", "leader"})
READ = frozenset({"operator", "dispatcher", "supervisor"})
DISP = READ
DEC = frozenset({"dispatcher", "supervisor"})

T = "/api/v1/console/tickets/PDS2099010100001"
PT = "/console/tickets/PDS2099010100001"
DT = "/api/v1/desk/tickets/PDS2099010100001"
DPT = "/desk/tickets/PDS2099010100001"

ROUTES: list[tuple[str, str, frozenset | None]] = [
    # JSON API
    ("GET", "/api/v1/console/csrf", PUBLIC),
    ("POST", "/api/v1/console/login", PUBLIC),
    ("POST", "/api/v1/console/logout", STAFF),
    ("GET", "/api/v1/console/me", STAFF),
    ("POST", "/api/v1/console/me/shift", OPS),
    ("GET", "/api/v1/console/directory", STAFF),
    ("GET", "/api/v1/console/tickets", READ),
    ("POST", "/api/v1/console/tickets", OPS),
    ("GET", "/api/v1/console/queue/counts", READ),
    ("POST", "/api/v1/console/tickets/bulk", OPS),
    ("GET", T, READ),
    ("POST", T + "/claim", OPS),
    ("POST", T + "/release", OPS),
    ("POST", T + "/assign", SUP),
    ("POST", T + "/reveal", OPS),
    ("POST", T + "/classification", OPS),
    ("POST", T + "/reply", OPS),
    ("POST", T + "/entries/1/retry", OPS),
    ("POST", T + "/notes", OPS),
    ("POST", T + "/merge", OPS),
    ("POST", T + "/answer", OPS),
    ("POST", T + "/close", DISP),
    ("POST", T + "/reopen", OPS),
    ("POST", T + "/dispatch", DISP),
    ("POST", T + "/review", DISP),
    ("POST", T + "/extension", DEC),
    ("POST", T + "/deadline", DEC),
    ("POST", T + "/supervise", DEC),
    ("GET", "/api/v1/console/loop", READ),
    ("GET", "/api/v1/console/canned-replies", OPS),
    ("POST", "/api/v1/console/canned-replies", OPS),
    ("DELETE", "/api/v1/console/canned-replies/999", OPS),
    ("GET", "/api/v1/console/stats", SUP),
    ("GET", "/api/v1/console/operators", SUP),
    ("POST", "/api/v1/console/operators/nobody/shift", SUP),
    ("GET", "/api/v1/console/auto-assign", SUP),
    ("POST", "/api/v1/console/auto-assign", SUP),
    ("GET", "/api/v1/console/audit", SUP),
    ("GET", "/api/v1/console/evaluation", EVAL),
    ("GET", "/api/v1/console/analytics", ANALYTICS),
    ("GET", "/api/v1/console/analytics/hotspots", ANALYTICS),
    ("GET", "/api/v1/console/users", ADM),
    ("POST", "/api/v1/console/users", ADM),
    ("POST", "/api/v1/console/users/nobody", ADM),
    ("GET", "/api/v1/console/training-suggestions", ADM),
    ("POST", "/api/v1/console/training-suggestions/999", ADM),
    ("GET", "/api/v1/console/callbacks", CB),
    ("POST", "/api/v1/console/callbacks/999/reveal", CB),
    ("POST", "/api/v1/console/callbacks/999/record", CB),
    ("POST", "/api/v1/console/callbacks/999/rule", SUP),
    ("GET", "/api/v1/console/clusters", READ),
    ("GET", T + "/duplicates", READ),
    ("POST", "/api/v1/console/clusters/merge", OPS),
    # the pipeline's admin API (also reachable with the admin token)
    ("GET", "/api/v1/admin/dead-letters", ADM),
    ("POST", "/api/v1/admin/dead-letters/1-0/replay", ADM),
    ("GET", "/api/v1/admin/intake", ADM),
    ("GET", "/api/v1/admin/national-feed", ADM),
    ("POST", "/api/v1/admin/national-feed/retry", ADM),
    # NLU administration (intents, examples, answers, training, models)
    ("GET", "/api/v1/admin/nlu/intents", ADM),
    ("POST", "/api/v1/admin/nlu/intents", ADM),
    ("DELETE", "/api/v1/admin/nlu/intents", ADM),
    ("GET", "/api/v1/admin/nlu/examples", ADM),
    ("POST", "/api/v1/admin/nlu/examples", ADM),
    ("PUT", "/api/v1/admin/nlu/examples/999", ADM),
    ("DELETE", "/api/v1/admin/nlu/examples/999", ADM),
    ("GET", "/api/v1/admin/nlu/answers", ADM),
    ("PUT", "/api/v1/admin/nlu/answers", ADM),
    ("GET", "/api/v1/admin/nlu/export", ADM),
    ("POST", "/api/v1/admin/nlu/import", ADM),
    ("GET", "/api/v1/admin/nlu/suggestions", ADM),
    ("POST", "/api/v1/admin/nlu/suggestions/review", ADM),
    ("POST", "/api/v1/admin/nlu/train", ADM),
    ("GET", "/api/v1/admin/nlu/jobs", ADM),
    ("GET", "/api/v1/admin/nlu/jobs/999", ADM),
    ("POST", "/api/v1/admin/nlu/jobs/999/cancel", ADM),
    ("GET", "/api/v1/admin/nlu/models", ADM),
    ("GET", "/api/v1/admin/nlu/models/999", ADM),
    ("POST", "/api/v1/admin/nlu/models/999/activate", ADM),
    ("POST", "/api/v1/admin/nlu/models/active/evaluate", ADM),
    # pages
    ("GET", "/console/login", PUBLIC),
    ("POST", "/console/login", PUBLIC),
    ("POST", "/console/logout", STAFF),
    ("POST", "/console/shift", OPS),
    ("GET", "/console", READ),
    ("GET", "/console/queue/panel", READ),
    ("POST", "/console/bulk", OPS),
    ("GET", "/console/events", READ),
    ("GET", PT, READ),
    ("POST", PT + "/claim", OPS),
    ("POST", PT + "/release", OPS),
    ("POST", PT + "/assign", SUP),
    ("POST", PT + "/reveal", OPS),
    ("POST", PT + "/classify", OPS),
    ("POST", PT + "/reply", OPS),
    ("POST", PT + "/retry/1", OPS),
    ("POST", PT + "/note", OPS),
    ("POST", PT + "/merge", OPS),
    ("POST", PT + "/dispatch", DISP),
    ("POST", PT + "/review", DISP),
    ("POST", PT + "/extension", DEC),
    ("POST", PT + "/deadline", DEC),
    ("POST", PT + "/supervise", DEC),
    ("POST", PT + "/answer", OPS),
    ("POST", PT + "/close", DISP),
    ("POST", PT + "/reopen", OPS),
    ("GET", "/console/attachments/999", READ),
    ("GET", "/console/clusters", READ),
    ("GET", PT + "/duplicates", READ),
    ("POST", "/console/clusters/merge", OPS),
    ("GET", "/console/loop", READ),
    ("GET", "/console/intake", OPS),
    ("POST", "/console/intake", OPS),
    ("POST", "/console/intake/suggest", OPS),
    ("GET", "/console/canned", OPS),
    ("POST", "/console/canned", OPS),
    ("POST", "/console/canned/999/delete", OPS),
    ("GET", "/console/supervisor", SUP),
    ("POST", "/console/supervisor/auto-assign", SUP),
    ("POST", "/console/supervisor/shift/nobody", SUP),
    ("GET", "/console/audit", SUP),
    ("GET", "/console/evaluation", EVAL),
    ("GET", "/console/evaluation.csv", EVAL),
    ("GET", "/console/evaluation.xlsx", EVAL),
    ("GET", "/console/analytics", ANALYTICS),
    ("GET", "/console/analytics/events", ANALYTICS),
    ("GET", "/console/analytics/charts/volume_by_day.xlsx", ANALYTICS),
    ("GET", "/console/analytics/report", ANALYTICS),
    ("GET", "/console/analytics/report.xlsx", ANALYTICS),
    ("POST", "/console/analytics/report/send", SUP),
    ("GET", "/console/admin/users", ADM),
    ("POST", "/console/admin/users", ADM),
    ("POST", "/console/admin/users/nobody", ADM),
    ("GET", "/console/admin/open311-keys", ADM),
    ("POST", "/console/admin/open311-keys", ADM),
    ("POST", "/console/admin/open311-keys/nobody/revoke", ADM),
    ("GET", "/api/v1/console/open311-keys", ADM),
    ("POST", "/api/v1/console/open311-keys", ADM),
    ("DELETE", "/api/v1/console/open311-keys/nobody", ADM),
    ("GET", "/console/admin/suggestions", ADM),
    ("POST", "/console/admin/suggestions/999", ADM),
    ("GET", "/console/callbacks", CB),
    ("GET", "/console/callbacks/999", CB),
    ("POST", "/console/callbacks/999/reveal", CB),
    ("POST", "/console/callbacks/999/record", CB),
    ("POST", "/console/callbacks/999/rule", SUP),
    # the handling desk (handlers only, each on its own unit's tickets)
    ("GET", "/api/v1/desk/queue", HANDLER),
    ("GET", DT, HANDLER),
    ("POST", DT + "/sign", HANDLER),
    ("POST", DT + "/return", HANDLER),
    ("POST", DT + "/progress", HANDLER),
    ("POST", DT + "/answer", HANDLER),
    ("POST", DT + "/extension", HANDLER),
    ("POST", DT + "/supervision/1/acknowledge", HANDLER),
    ("POST", DT + "/reveal", HANDLER),
    ("GET", "/desk", HANDLER),
    ("GET", "/desk/queue/panel", HANDLER),
    ("GET", "/desk/events", HANDLER),
    ("POST", "/desk/logout", HANDLER),
    ("GET", DPT, HANDLER),
    ("POST", DPT + "/sign", HANDLER),
    ("POST", DPT + "/return", HANDLER),
    ("POST", DPT + "/progress", HANDLER),
    ("POST", DPT + "/answer", HANDLER),
    ("POST", DPT + "/extension", HANDLER),
    ("POST", DPT + "/supervision/1/acknowledge", HANDLER),
    ("POST", DPT + "/reveal", HANDLER),
    ("GET", "/desk/attachments/999", HANDLER),
]


@pytest.fixture
def backend() -> str:
    # Access control does not depend on the storage backend.
    return "embedded"


def _match(resource, path: str) -> bool:
    info = resource._match(path) if hasattr(resource, "_match") else None
    return info is not None


async def test_the_table_covers_every_console_route_with_its_roles(console):
    client, _, _ = console
    registered = {}
    for route in all_routes(client.app):
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or not path.startswith(("/console", "/api/v1/console", "/api/v1/admin/", "/desk",
                                                          "/api/v1/desk")):
            continue
        registered[(route.method, path)] = route
    covered = set()
    for method, path, roles in ROUTES:
        found = [key for key, route in registered.items() if key[0] == method and _match(route.resource, path)]
        assert found, f"{method} {path} is in the table but not registered"
        (key,) = found
        covered.add(key)
        assert roles_of(registered[key].handler) == roles, f"{method} {path}: handler roles differ from the table"
    missing = sorted(set(registered) - covered)
    assert not missing, f"console routes without a row in the role table: {missing}"


async def _call(agent, method: str, path: str):
    if path in ("/console/events", "/desk/events", "/console/analytics/events"):
        resp = await agent.http.get(agent.base + path, allow_redirects=False)
        status = resp.status
        resp.close()
        return status
    if path.startswith("/api/"):
        body = {} if method in ("POST", "DELETE", "PUT") else None
        if path.endswith("/nlu/train"):
            body = {"epochs": 0}  # refused as invalid: the table checks access, it must not start a training
        resp = await agent.request(method, path, json=body)
    elif method == "POST":
        resp = await agent.form(path, {})
    else:
        resp = await agent.get(path)
    return resp.status


async def _handler_user(client) -> None:
    from gateway.infra.resources import DIRECTORY, SESSIONS
    from tests.gateway.web.console.conftest import PASSWORD
    from ticketing.accounts import users

    async with client.app[SESSIONS]() as session, session.begin():
        await users.create_user(session, "u-handler", role="handler", password=PASSWORD, unit="health",
                                known_units=[u.code for u in client.app[DIRECTORY].units])


@pytest.mark.parametrize("who", ["anonymous", "operator", "dispatcher", "callback", "supervisor", "admin", "handler",
                                 "leader"])
async def test_every_route_admits_exactly_its_roles(console, who):
    client, agent, user = console
    if who == "handler":
        await _handler_user(client)  # a handler needs a unit
    a = await agent() if who == "anonymous" else await agent(f"u-{who}", role=who)
    for method, path, roles in ROUTES:
        status = await _call(a, method, path)
        if roles is None:
            assert status not in (401, 403) or path.endswith("/login"), (who, method, path, status)
        elif who == "anonymous":
            expected = {401} if (path.startswith("/api/") or method == "POST") else {302}
            assert status in expected, (who, method, path, status)
        elif who in roles:
            assert status not in (401, 403), (who, method, path, status)
        elif who == "handler" and method == "GET" and not path.startswith("/api/"):
            assert status == 303, (who, method, path, status)  # sent to the desk instead of a bare 403
        else:
            assert status == 403, (who, method, path, status)
        if path.endswith("/logout") and who != "anonymous" and who in (roles or ()):
            assert (await a.login(f"u-{who}")).status == 200  # log back in for the rest of the table


async def test_citizen_endpoints_never_show_console_data(console):
    """Internal notes, the assignee and who corrected what stay inside the console."""
    from tests.gateway.web.console.conftest import make_ticket

    client, agent, user = console
    op = await agent("liu")
    number = await make_ticket(client.app, sender="s" + "a" * 31, phone="13912345678")
    assert (await op.post(f"/api/v1/console/tickets/{number}/notes", {"text": "内部：此人多次重复反映"})).status == 200
    resp = await op.post(f"/api/v1/console/tickets/{number}/classification", {"department": "transport"})
    assert resp.status == 200
    msgs = await (await op.get(f"/api/v1/web/sessions/{'s' + 'a' * 31}/messages")).json()
    assert all("内部" not in m["text"] for m in msgs["messages"])
    progress = await (await op.get(f"/api/v1/tickets/{number}?phone_last4=5678")).json()
    text = str(progress)
    assert "liu" not in text and "内部" not in text and "transport" not in text
