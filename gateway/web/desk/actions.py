"""The desk's actions, shared by the pages and the JSON API.

Each is one transaction that locks the ticket first (``claims.lock_ticket``), so two handlers (or a
handler and a dispatcher) acting on one ticket serialise; the live notices go out only after the
commit: the platform consoles' topic (their queues refresh) and the unit's own desk topic.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.infra.replies import REPLIES
from gateway.infra.resources import ATTACHMENTS, DIRECTORY, SESSIONS
from gateway.web.audiences import Config
from gateway.web.desk import view
from gateway.web.desk.forms import Upload
from gateway.web.present import Labels
from ticketing.accounts.audit import audit
from ticketing.accounts.roles import Actor
from ticketing.db.models.base import utcnow
from ticketing.db.models.tickets import Attachment, Ticket
from ticketing.db.models.workflow import SupervisionNote, UnitReport
from ticketing.errors import ConsoleError
from ticketing.tickets import claims
from ticketing.workflow import assignments, desk_queue, extensions, reports, supervision_notes

log = logging.getLogger(__name__)
Result = TypeVar("Result")


def warn_at(config: Config) -> float:
    return config[DIRECTORY].handling.warn_at_fraction


async def publish(config: Config, actor: Actor, ticket: Ticket, what: str, **extra: Any) -> None:
    bus = config[REPLIES]
    event = {"type": "updated", "ticket_no": ticket.number, "by": actor.username, "what": what,
             "status": ticket.status}
    try:
        await bus.publish_event(bus.console_topic, event)
        if actor.unit:
            await bus.publish_event(bus.desk_topic(actor.unit), {**event, "unit": actor.unit, **extra})
    except Exception as exc:  # live updates only; the change itself is committed
        log.warning("desk notification not published: %s", exc)


async def _act(config: Config, actor: Actor, number: str, what: str,
               step: Callable[[AsyncSession, Ticket], Awaitable[Result]]) -> Result:
    async with config[SESSIONS]() as session, session.begin():
        ticket = await claims.lock_ticket(session, await claims.get_ticket(session, number))
        if actor.unit and await view.held_dispatch(session, ticket, actor.unit) is None \
                and await assignments.ever_dispatched_to(session, ticket, actor.unit):
            raise ConsoleError(409, "not_held", "该工单已不在本单位办理，只能查看")
        result = await step(session, ticket)
    await publish(config, actor, ticket, what)
    return result


# --------------------------------------------------------------------------- reading

async def queue(config: Config, actor: Actor, *, tab: str, offset: int, limit: int) -> dict[str, Any]:
    async with config[SESSIONS]() as session:
        page = await desk_queue.unit_queue(session, actor.unit or "", tab=tab, now=utcnow(), warn_at=warn_at(config),
                                           offset=offset, limit=limit)
    return view.queue_dict(page, Labels(config[DIRECTORY]))


async def ticket(config: Config, actor: Actor, number: str) -> dict[str, Any]:
    async with config[SESSIONS]() as session:
        found, held = await view.unit_ticket(session, number, actor, full=True)
        return await view.ticket_dict(session, found, held, actor, Labels(config[DIRECTORY]), now=utcnow(),
                                      warn_at=warn_at(config))


async def attachment(config: Config, actor: Actor, attachment_id: int) -> Attachment:
    """A file of a ticket this unit holds or held: the citizen's, or one of its own reports'.
    Anything else (another unit's ticket or report, the original e-mail) is "not found"."""
    missing = ConsoleError(404, "not_found", "附件不存在")
    async with config[SESSIONS]() as session:
        att = await session.get(Attachment, attachment_id)
        if att is None or att.ticket_id is None or att.kind in view.HIDDEN_ATTACHMENT_KINDS or not actor.unit:
            raise missing
        ticket = await session.get(Ticket, att.ticket_id)
        if ticket is None or not await assignments.ever_dispatched_to(session, ticket, actor.unit):
            raise missing
        if att.report_id is not None:
            report = await session.get(UnitReport, att.report_id)
            if report is None or report.unit != actor.unit:
                raise missing
        return att


# --------------------------------------------------------------------------- the unit's moves

async def sign(config: Config, actor: Actor, number: str) -> None:
    async def step(session: AsyncSession, ticket: Ticket) -> None:
        await assignments.sign(session, ticket, actor)

    await _act(config, actor, number, "sign", step)


async def return_ticket(config: Config, actor: Actor, number: str, *, reason: object, text: object) -> None:
    async def step(session: AsyncSession, ticket: Ticket) -> None:
        await assignments.return_ticket(session, ticket, actor, config[DIRECTORY], reason=reason, text=text)

    await _act(config, actor, number, "return", step)


async def _report(config: Config, actor: Actor, number: str, what: str, text: object, upload: Upload | None,
                  write: Callable[..., Awaitable[UnitReport]]) -> UnitReport:
    files = upload.files if upload else []

    async def step(session: AsyncSession, ticket: Ticket) -> UnitReport:
        return await write(session, ticket, actor, text, attachments=files)

    try:
        return await _act(config, actor, number, what, step)
    except BaseException:
        if upload is not None:  # nothing refers to the stored files any more
            await upload.discard(config[ATTACHMENTS])
        raise


async def progress(config: Config, actor: Actor, number: str, text: object, upload: Upload | None = None) -> UnitReport:
    return await _report(config, actor, number, "progress", text, upload, reports.add_progress)


async def answer(config: Config, actor: Actor, number: str, text: object, upload: Upload | None = None) -> UnitReport:
    return await _report(config, actor, number, "answer", text, upload, reports.submit_answer)


async def extension(config: Config, actor: Actor, number: str, *, until: date, reason: object) -> None:
    async def step(session: AsyncSession, ticket: Ticket) -> None:
        await extensions.request_extension(session, ticket, actor, until=until, reason=reason)

    await _act(config, actor, number, "extension", step)


async def acknowledge(config: Config, actor: Actor, number: str, note_id: int) -> SupervisionNote:
    async def step(session: AsyncSession, ticket: Ticket) -> SupervisionNote:
        return await supervision_notes.acknowledge(session, ticket, actor, note_id)

    return await _act(config, actor, number, "supervision_acknowledged", step)


async def reveal(config: Config, actor: Actor, number: str) -> dict[str, str | None]:
    """The citizen's name and phone, for a unit that holds the ticket and must call them; audited."""
    async with config[SESSIONS]() as session, session.begin():
        found, held = await view.unit_ticket(session, number, actor)
        if held is None:
            raise ConsoleError(403, "reveal_forbidden", "工单已不在本单位办理，不能查看联系方式")
        await audit(session, actor=actor.username, action="reveal_contact", ticket_id=found.id, target=found.number,
                    ip=actor.ip, detail={"fields": ["phone"] if found.citizen_phone else [], "unit": actor.unit})
        return {"name": found.citizen_name, "phone": found.citizen_phone}
