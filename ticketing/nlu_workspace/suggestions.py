"""Training suggestions from operators' corrections, and their one review path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.accounts.audit import audit
from ticketing.db.models.base import utcnow
from ticketing.db.models.nlu import TrainingSuggestion
from ticketing.errors import WorkspaceError
from ticketing.nlu_workspace.intents import _add_texts, _intent, clean_example

SUGGESTION_INTENT_FIELDS = {"department": "dept_"}  # the only suggestion field that is a Rasa intent


# --------------------------------------------------------------------------- operators' suggestions

async def suggestions(session: AsyncSession, *, status: str | None = "new", limit: int = 500) -> list[TrainingSuggestion]:
    stmt = select(TrainingSuggestion).order_by(TrainingSuggestion.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(TrainingSuggestion.status == status)
    return list((await session.execute(stmt)).scalars())


async def accepted_request_types(session: AsyncSession) -> list[tuple[str, str]]:
    """(text, request type) of every request-type correction an admin accepted, in the order they were
    accepted (a later correction of the same text wins when the request-type model reads them)."""
    stmt = (select(TrainingSuggestion)
            .where(TrainingSuggestion.field == "request_type", TrainingSuggestion.status == "accepted",
                   TrainingSuggestion.chosen.is_not(None))
            .order_by(TrainingSuggestion.reviewed_at, TrainingSuggestion.id))
    return [(row.text, row.chosen) for row in (await session.execute(stmt)).scalars() if row.text and row.chosen]


def suggestion_intent(row: TrainingSuggestion, chosen: str | None = None) -> str | None:
    """The Rasa intent a suggestion trains, or None: only the department is an intent (dept_<code>).
    Region comes from the gazetteer: its suggestions are reviewed and kept, nothing is trained. The request
    type is a model of its own beside the intents (nlu/request_type_model.py): an accepted request-type
    correction is one of its labels at the next training (accepted_request_types), not an intent example."""
    prefix = SUGGESTION_INTENT_FIELDS.get(row.field)
    value = chosen if chosen is not None else row.chosen
    if prefix is None or not value:
        return None
    return value if value.startswith(prefix) or "/" in value else prefix + value


async def review_suggestions(session: AsyncSession, decisions: Sequence[dict[str, Any]], *, actor: str) -> dict[str, int]:
    """Accept or reject suggestions in bulk. Each decision: {"id", "action": accept|reject, optional
    "text" and "intent" (edit before accepting)}. Accepting a department suggestion adds the (edited)
    text as an example of dept_<chosen> (or of the edited intent). All or nothing."""
    accepted = rejected = examples = 0
    now = utcnow()
    for decision in decisions:
        row = await session.get(TrainingSuggestion, int(decision.get("id") or 0))
        if row is None:
            raise WorkspaceError(404, "suggestion_not_found", f"没有训练建议 {decision.get('id')}")
        action = decision.get("action")
        if action == "reject":
            row.status = "rejected"
            rejected += 1
        elif action == "accept":
            intent_name = decision.get("intent") or suggestion_intent(row)
            if intent_name:
                intent = await _intent(session, intent_name, create=False, actor=actor)
                text = clean_example(decision.get("text") if decision.get("text") is not None else row.text)
                examples += await _add_texts(session, intent, [text], actor=actor, source="suggestion")
            elif decision.get("text") is not None and " ".join(str(decision["text"]).split()) != " ".join(row.text.split()):
                # No intent (region, request type): the text as the admin edited it is the labelled example the
                # next training of the request-type model reads (accepted_request_types).
                row.text = clean_example(decision["text"])
            row.status = "accepted"
            accepted += 1
        else:
            raise WorkspaceError(400, "bad_action", "操作只能是 accept 或 reject")
        row.reviewed_by, row.reviewed_at = actor, now
    await session.flush()
    await audit(session, actor=actor, action="nlu_suggestions_reviewed",
                detail={"accepted": accepted, "rejected": rejected, "examples": examples})
    return {"accepted": accepted, "rejected": rejected, "examples": examples}
