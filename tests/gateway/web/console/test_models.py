"""The response models the API document shows are the shapes the console API returns."""

from __future__ import annotations

from gateway.web.console import models
from tests.gateway.web.console.conftest import make_ticket


async def test_real_responses_match_their_documented_models(console):
    client, agent, _ = console
    number = await make_ticket(client.app)
    li = await agent("li")
    boss = await agent("boss", role="supervisor")
    root = await agent("root", role="admin")
    checks = [
        (li, "GET", "/api/v1/console/me", models.MeResponse),
        (li, "GET", "/api/v1/console/tickets", models.QueuePage),
        (li, "GET", "/api/v1/console/queue/counts", models.QueueCounts),
        (li, "GET", f"/api/v1/console/tickets/{number}", models.TicketResponse),
        (li, "POST", f"/api/v1/console/tickets/{number}/claim", models.TicketResponse),
        (li, "GET", "/api/v1/console/canned-replies", models.CannedReplies),
        (boss, "GET", "/api/v1/console/stats?days=7", models.StatsResponse),
        (boss, "GET", "/api/v1/console/operators", models.OperatorsResponse),
        (boss, "GET", "/api/v1/console/audit", models.AuditLog),
        (root, "GET", "/api/v1/console/users", models.UsersResponse),
    ]
    for who, method, path, model in checks:
        resp = await who.request(method, path, json={} if method == "POST" else None)
        assert resp.status == 200, (path, resp.status)
        model.model_validate(await resp.json())
    replied = await li.post(f"/api/v1/console/tickets/{number}/reply", {"text": "您好，已转交处理。"})
    models.ReplyResponse.model_validate(await replied.json())
