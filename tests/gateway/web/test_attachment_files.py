"""A mail's files packed together (connectors.packs) are served to staff exactly as stored."""

from __future__ import annotations

import os

from gateway.web import attachment_files
from tests.gateway.web.console.conftest import console, console_settings, make_ticket  # noqa: F401


async def _attach(app, number: str, ref) -> int:
    from gateway.infra.resources import SESSIONS
    from ticketing.db.models.tickets import Attachment
    from ticketing.tickets.store import ticket_by_number

    async with app[SESSIONS]() as session, session.begin():
        ticket = await ticket_by_number(session, number)
        att = Attachment(ticket_id=ticket.id, filename=ref.filename, content_type=ref.content_type,
                         size=ref.size, storage_key=ref.storage_key, kind=ref.kind)
        session.add(att)
    return att.id


async def test_packed_blobs_are_streamed_whole_in_chunks(console, monkeypatch):  # noqa: F811
    from gateway.infra.resources import ATTACHMENTS

    monkeypatch.setattr(attachment_files, "CHUNK_BYTES", 1000)  # several chunks for one blob
    client, agent, _user = console
    store = client.app[ATTACHMENTS]
    number = await make_ticket(client.app, channel="email", email="zhang.san@example.com")
    mail = b"From: zhang.san@example.com\r\nSubject: x\r\n\r\n" + os.urandom(4321)
    photo = b"\x89PNG\r\n\x1a\n" + os.urandom(2500)
    mail_ref = await store.save(mail, filename="original.eml", content_type="message/rfc822",
                                kind="original_email", check_type=False, packed=True)
    photo_ref = await store.save(photo, filename="路灯.png", content_type="image/png", kind="image", packed=True)
    mail_id, photo_id = await _attach(client.app, number, mail_ref), await _attach(client.app, number, photo_ref)

    handler = await agent("li")
    await handler.post(f"/api/v1/console/tickets/{number}/claim")
    got = await handler.get(f"/console/attachments/{mail_id}")
    assert got.status == 200 and await got.read() == mail
    assert got.headers["Content-Type"] == "application/octet-stream"  # never rendered by the browser
    assert got.headers["Content-Length"] == str(len(mail))
    got = await handler.get(f"/console/attachments/{photo_id}")
    assert got.status == 200 and await got.read() == photo
    assert got.headers["Content-Type"] == "image/png" and "sandbox" in got.headers["Content-Security-Policy"]


async def test_a_key_past_its_packs_end_is_not_found(console):  # noqa: F811
    from connectors.packs import parse_pack_key
    from gateway.infra.resources import ATTACHMENTS

    client, agent, _user = console
    store = client.app[ATTACHMENTS]
    number = await make_ticket(client.app)
    ref = await store.save(b"GIF89a..", filename="a.gif", content_type="image/gif", packed=True)
    blob = parse_pack_key(ref.storage_key)
    forged = type(ref)(ref.filename, ref.content_type, ref.size, blob._replace(offset=10_000).key, ref.kind)
    att_id = await _attach(client.app, number, forged)
    reader = await agent("wang")
    assert (await reader.get(f"/console/attachments/{att_id}")).status == 404
