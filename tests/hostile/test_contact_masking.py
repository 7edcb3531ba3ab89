"""Issue #12 item 9: a phone number or an e-mail address the citizen typed into the message is as
private as the contact field: masked for whoever may not reveal the contact, in the ticket and in the
queue, shown to the operator handling it."""

from __future__ import annotations

import json

from tests.gateway.web.console.conftest import console, console_settings, make_ticket  # noqa: F401

WORDS = "我是张三，电话 138 3751 2345，邮箱 zhang.san@example.com，家里座机 0375-2661234，路灯坏了"


async def _ticket(agent, number: str) -> dict:
    return (await (await agent.get(f"/api/v1/console/tickets/{number}")).json())["ticket"]


async def test_contacts_in_the_citizens_words_are_masked_for_those_who_may_not_reveal(console):  # noqa: F811
    client, agent, _user = console
    number = await make_ticket(client.app, text=WORDS, subject="13837512345 的诉求")
    other = await agent("wang")
    seen = json.dumps(await _ticket(other, number), ensure_ascii=False)
    for secret in ("3751 2345", "13837512345", "zhang.san@", "2661234".join(("0375-", ""))):
        assert secret not in seen, secret
    assert "138****2345" in seen and "z***@example.com" in seen
    queue = json.dumps(await (await other.get("/api/v1/console/tickets?status=all")).json(), ensure_ascii=False)
    assert "3751 2345" not in queue and "zhang.san@" not in queue

    handler = await agent("li")
    assert (await handler.post(f"/api/v1/console/tickets/{number}/claim")).status == 200
    shown = json.dumps(await _ticket(handler, number), ensure_ascii=False)
    assert "138 3751 2345" in shown and "zhang.san@example.com" in shown
    still_hidden = json.dumps(await _ticket(other, number), ensure_ascii=False)
    assert "zhang.san@" not in still_hidden
