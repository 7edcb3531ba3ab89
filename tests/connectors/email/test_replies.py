"""The automatic receipt, its loop protection and rate cap, and operators' replies —
with an aiosmtpd sink as the outbound relay."""

from __future__ import annotations

import socket

import pytest

from connectors.base import ReplyTarget

from .conftest import MAILBOX, make_mail


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def test_auto_reply_with_ticket_number_through_the_relay(start_mailbox, intake, responder, sink):
    box = await start_mailbox(relay_url=sink.url)
    code, _ = await box.send(make_mail(message_id="<orig-1@example.com>"))
    assert code == 250
    await box.connector.drain()
    assert box.connector.auto_reply_outcomes["orig-1@example.com"] == "sent"
    (mail,) = sink.mails
    assert mail.mail_from == "<>"  # null return path: a bounce of the receipt goes nowhere
    assert mail.rcpt_tos == ["citizen@example.com"]
    m = mail.message
    ticket = responder.tickets["orig-1@example.com"]
    assert m["Subject"] == f"Re: 路灯坏了 [{ticket}]"
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["X-Loop"] == MAILBOX
    assert m["In-Reply-To"] == "<orig-1@example.com>"
    assert "<orig-1@example.com>" in m["References"]
    assert m["Message-ID"].startswith(f"<{ticket}.") and m["Message-ID"].endswith("@12345.pds.gov.cn>")
    assert m["From"].addresses[0].addr_spec == MAILBOX
    assert m["From"].addresses[0].display_name == "平顶山市12345市长信箱"
    body = m.get_content()
    assert ticket in body and "来信已收到" in body and "您的诉求已受理" in body

    # The citizen answers the receipt: the reply joins the ticket through our Message-ID.
    answer = make_mail(
        "补充：路灯在3号楼东侧。",
        subject=m["Subject"].replace("Re:", "回复："),
        extra_headers={"In-Reply-To": m["Message-ID"], "References": f"<orig-1@example.com> {m['Message-ID']}"},
    )
    code, _ = await box.send(answer)
    assert code == 250
    follow = (await intake.messages())[-1]
    assert follow.metadata["ticket_no"] == ticket and follow.thread_key == ticket


LOOP_CASES = [
    ({"extra_headers": {"Auto-Submitted": "auto-replied"}}, "auto-submitted"),
    ({"extra_headers": {"Auto-Submitted": "auto-generated"}}, "auto-submitted"),
    ({"extra_headers": {"Precedence": "bulk"}}, "precedence-bulk"),
    ({"extra_headers": {"Precedence": "list"}}, "precedence-list"),
    ({"extra_headers": {"Precedence": "junk"}}, "precedence-junk"),
    ({"extra_headers": {"List-Id": "<news.lists.example.com>"}}, "mailing-list"),
    ({"extra_headers": {"X-Loop": MAILBOX}}, "x-loop"),
    ({"extra_headers": {"X-Auto-Response-Suppress": "All"}}, "x-auto-response-suppress"),
    ({"sender": "MAILER-DAEMON@mx.example.com"}, "robot-sender"),
    ({"sender": "postmaster@example.com"}, "robot-sender"),
    ({"sender": "noreply@example.com"}, "robot-sender"),
    ({"sender": "no-reply@example.com"}, "robot-sender"),
    ({"sender": MAILBOX}, "own-address"),
    ({"mail_from": ""}, "null-return-path"),
]


@pytest.mark.parametrize(("case", "reason"), LOOP_CASES, ids=[r + str(i) for i, (_c, r) in enumerate(LOOP_CASES)])
async def test_loop_protection_suppresses_the_auto_reply(start_mailbox, intake, responder, sink, case, reason):
    box = await start_mailbox(relay_url=sink.url)
    mail_from = case.get("mail_from", "citizen@example.com")
    kwargs = {k: v for k, v in case.items() if k != "mail_from"}
    code, _ = await box.send(make_mail(**kwargs), mail_from=mail_from)
    assert code == 250  # still accepted and published: a person may read it
    await box.connector.drain()
    (msg,) = await intake.messages()
    assert box.connector.auto_reply_outcomes[msg.native_id] == f"suppressed:{reason}"
    assert msg.metadata["auto_reply"] == f"suppressed:{reason}"
    assert sink.mails == []


async def test_auto_submitted_no_is_a_person(start_mailbox, intake, responder, sink):
    box = await start_mailbox(relay_url=sink.url)
    code, _ = await box.send(make_mail(extra_headers={"Auto-Submitted": "no"}))
    assert code == 250
    await box.connector.drain()
    assert len(sink.mails) == 1


async def test_rate_cap_per_sender(start_mailbox, intake, responder, sink, redis_client, prefix):
    box = await start_mailbox(relay_url=sink.url, autoreply_per_hour=2)
    for i in range(4):
        code, _ = await box.send(make_mail(f"第{i}封", sender="flood@example.com"))
        assert code == 250
    code, _ = await box.send(make_mail("另一位市民", sender="other@example.com"))
    assert code == 250
    await box.connector.drain()
    assert await intake.count() == 5  # every mail is accepted; only receipts are capped
    outcomes = list(box.connector.auto_reply_outcomes.values())
    assert outcomes.count("sent") == 3 and outcomes.count("suppressed:rate-limited") == 2
    assert sorted(m.rcpt_tos[0] for m in sink.mails) == ["flood@example.com", "flood@example.com", "other@example.com"]
    key = box.connector.limiter.rate_key("flood@example.com")
    assert key.startswith(f"{prefix}:conn:email:autoreply:rate:")
    assert int(await redis_client.get(key)) == 4 and 0 < await redis_client.ttl(key) <= 7200


async def test_retried_mail_gets_one_receipt(start_mailbox, intake, responder, sink):
    box = await start_mailbox(relay_url=sink.url)
    raw = make_mail(message_id="<same@example.com>")
    assert (await box.send(raw))[0] == 250
    await box.connector.drain()
    assert (await box.send(raw))[0] == 250  # the sender did not see our 250 and retried
    await box.connector.drain()
    assert await intake.count() == 2  # two stream entries; the pipeline dedupes by native_id
    assert len(sink.mails) == 1
    assert box.connector.auto_reply_outcomes["same@example.com"] == "suppressed:already-replied"


async def test_no_relay_configured_means_no_receipt_and_no_wait(start_mailbox, intake, sink):
    box = await start_mailbox(autoreply_wait_seconds=60)
    assert (await box.send(make_mail(message_id="<x1@example.com>")))[0] == 250
    await box.connector.drain(timeout=2)
    assert box.connector.auto_reply_outcomes["x1@example.com"] == "no-relay"


async def test_receipt_without_ticket_when_the_pipeline_is_slow(start_mailbox, intake, sink):
    box = await start_mailbox(relay_url=sink.url, autoreply_wait_seconds=0.3)  # no responder running
    assert (await box.send(make_mail()))[0] == 250
    await box.connector.drain()
    (mail,) = sink.mails
    body = mail.message.get_content()
    assert "工单编号和办理情况将另行回复" in body
    assert mail.message["Subject"] == "Re: 路灯坏了"


async def test_relay_refusal_is_recorded_and_releases_the_mark(start_mailbox, intake, responder, sink):
    box = await start_mailbox(relay_url=sink.url)
    sink.handler.refuse = "550 5.1.1 No such user"
    assert (await box.send(make_mail(message_id="<r1@example.com>")))[0] == 250
    await box.connector.drain()
    assert box.connector.auto_reply_outcomes["r1@example.com"].startswith("failed:发信服务器拒绝了收件地址")
    sink.handler.refuse = None
    assert (await box.send(make_mail(message_id="<r1@example.com>")))[0] == 250  # the retry may reply
    await box.connector.drain()
    assert box.connector.auto_reply_outcomes["r1@example.com"] == "sent"


# --------------------------------------------------------------------------- operator replies


async def test_send_reply_without_relay_keeps_it_in_the_outbox(start_mailbox):
    box = await start_mailbox()
    result = await box.connector.send_reply(ReplyTarget("email", "citizen@example.com", "PDS2026112700001"), "已处理")
    assert result.delivered is False and result.detail == "未配置发信服务器"


async def test_operator_reply_is_threaded(start_mailbox, intake, responder, sink):
    box = await start_mailbox(relay_url=sink.url)
    assert (await box.send(make_mail(message_id="<orig-7@example.com>")))[0] == 250
    await box.connector.drain()
    ticket = responder.tickets["orig-7@example.com"]

    # By ticket number: the thread memory supplies the citizen's Message-ID and subject.
    result = await box.connector.send_reply(
        ReplyTarget("email", "citizen@example.com", ticket), "路灯已于今日修复，感谢您的反映。"
    )
    assert result.delivered, result.detail
    m = sink.mails[-1].message
    assert sink.mails[-1].mail_from == MAILBOX  # a person's reply may bounce back to us
    assert m["In-Reply-To"] == "<orig-7@example.com>"
    assert m["Subject"] == f"Re: 路灯坏了 [{ticket}]"
    assert m["Auto-Submitted"] is None and m["X-Loop"] == MAILBOX
    assert "路灯已于今日修复" in m.get_content() and ticket in m.get_content()
    assert result.channel_message_id == m["Message-ID"].strip("<>")

    # By Message-ID, with an explicit subject.
    result = await box.connector.send_reply(
        ReplyTarget("email", "Citizen@Example.com", "orig-7@example.com", subject=f"关于{ticket}"), "补充答复"
    )
    assert result.delivered
    m = sink.mails[-1].message
    assert m["In-Reply-To"] == "<orig-7@example.com>" and m["Subject"] == f"Re: 关于{ticket}"
    assert sink.mails[-1].rcpt_tos == ["citizen@example.com"]

    # By Message-ID and the citizen's subject (what the gateway passes): the number is found.
    result = await box.connector.send_reply(
        ReplyTarget("email", "citizen@example.com", "orig-7@example.com", subject="路灯坏了"), "第三次答复"
    )
    assert result.delivered
    m = sink.mails[-1].message
    assert m["Subject"] == f"Re: 路灯坏了 [{ticket}]" and ticket in m.get_content()


async def test_operator_reply_failures(start_mailbox, sink):
    box = await start_mailbox(relay_url=f"smtp://127.0.0.1:{_closed_port()}?timeout=2")
    result = await box.connector.send_reply(ReplyTarget("email", "citizen@example.com"), "答复")
    assert not result.delivered and result.detail.startswith("无法连接发信服务器")
    result = await box.connector.send_reply(ReplyTarget("email", "not an address"), "答复")
    assert not result.delivered and result.detail == "收件地址无效"
    box2 = await start_mailbox(relay_url=sink.url)
    sink.handler.refuse = "550 5.1.1 No such user"
    result = await box2.connector.send_reply(ReplyTarget("email", "gone@example.com"), "答复")
    assert not result.delivered and "550" in result.detail


async def test_relay_with_starttls_and_login(start_mailbox, intake, responder, tls_files):
    """``smtp+starttls://user:pass@host:port?verify=no`` — the shape of a government relay."""
    import asyncio
    import ssl

    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    from .conftest import SinkHandler

    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            logins.append((auth_data.login, auth_data.password))
            return AuthResult(success=auth_data == LoginPassword(b"hotline@pds", b"s3cret:pw"))
        return AuthResult(success=False)

    handler = SinkHandler()
    loop = asyncio.get_running_loop()
    relay = await loop.create_server(
        lambda: SMTP(handler, hostname="relay.test", tls_context=ctx, require_starttls=True, auth_required=True,
                     authenticator=authenticator, loop=loop),
        "127.0.0.1", 0,
    )
    try:
        port = relay.sockets[0].getsockname()[1]
        box = await start_mailbox(relay_url=f"smtp+starttls://hotline%40pds:s3cret%3Apw@127.0.0.1:{port}?verify=no")
        assert (await box.send(make_mail(message_id="<tls-1@example.com>")))[0] == 250
        await box.connector.drain()
        assert box.connector.auto_reply_outcomes["tls-1@example.com"] == "sent"
        assert logins == [(b"hotline@pds", b"s3cret:pw")]
        assert len(handler.mails) == 1
        # Certificate verification is on unless the URL opts out.
        box2 = await start_mailbox(relay_url=f"smtp+starttls://hotline%40pds:s3cret%3Apw@127.0.0.1:{port}")
        result = await box2.connector.send_reply(ReplyTarget("email", "citizen@example.com"), "答复")
        assert not result.delivered and "SSL" in result.detail
    finally:
        relay.close()
        await relay.wait_closed()
