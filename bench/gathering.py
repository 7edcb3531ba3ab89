"""The bot's gathering (issue #19) measured on held-out messages, with the real NLU.

    .venv/bin/python -m bench.gathering [--rasa-url http://127.0.0.1:5005]

1. The clarifying question's margin (``nlu/thresholds.py`` ``department_margin``): every message of
   nlu/tests/heldout_departments.yml is parsed; for each candidate margin, the share of messages whose
   best two departments are closer than it (the bot would ask), how often the best one is right among
   them, and how often the right one is one of the two buttons.  The margin kept is the largest one
   whose questions stay under 10 % of the messages while the first guess among them is right no more
   than 75 % of the time (a question is worth asking) and the buttons hold the answer at least 80 %.
2. Before / after on tests/ticketing/intake/data/gathering_heldout.yml (64 chat messages with a
   simulated citizen's answers): every message goes through the intake rules on a fresh SQLite
   database, once with the gathering off (the one-shot intake as before: a ticket from the first
   message, the place and time read from its words) and once on; questions are answered as the item
   says, unanswered ones time out through the release job.  Printed: the share of tickets reaching an
   operator with a location (region + street/community/landmark), with a contact (a phone, or the
   WeChat openid), with both, routed to the right county, and the questions asked.

Without --rasa-url a Rasa server is started on the cached model of the current data (and stopped).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from config.directory import Directory, load_directory
from gateway.worker.pipeline import classification_of, torn_between
from nlu.client import NluClient
from ticketing.db.engine import create_engine, session_factory
from ticketing.db.migrate import upgrade
from ticketing.db.models.tickets import Ticket
from ticketing.intake.contract import Classification
from ticketing.intake.gathering import CLARIFY, SKIP, UNSURE, release_due
from ticketing.intake.rules import IntakeRules
from ticketing.tickets.store import ContactInfo

ROOT = Path(__file__).resolve().parent.parent
DEPARTMENTS = ROOT / "nlu" / "tests" / "heldout_departments.yml"
HELDOUT = ROOT / "tests" / "ticketing" / "intake" / "data" / "gathering_heldout.yml"
MARGINS = (0.02, 0.05, 0.08, 0.10, 0.15, 0.20, 0.25, 0.30)
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday morning in Pingdingshan


@dataclass(frozen=True)
class Message:
    text: str
    channel: str
    sender_id: str
    received_at: datetime
    contact: ContactInfo
    native_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    thread_key: str | None = None
    subject: str | None = None
    attachments: tuple = ()
    metadata: dict[str, Any] = field(default_factory=dict)


async def margins(nlu: NluClient) -> None:
    items = yaml.safe_load(DEPARTMENTS.read_text(encoding="utf-8"))["examples"]
    parsed = []
    for item in items:
        result = await nlu.parse(item["text"])
        parsed.append((item["intent"].removeprefix("dept_"), result.department_alternatives or []))
    print(f"clarifying margin on {DEPARTMENTS.relative_to(ROOT)} ({len(parsed)} messages)")
    print("  margin  asked   first right among asked   right one among the two buttons")
    for margin in MARGINS:
        asked = [(truth, alts) for truth, alts in parsed if torn_between(alts, margin)]
        first = sum(alts[0]["code"] == truth for truth, alts in asked)
        buttons = sum(truth in (alts[0]["code"], alts[1]["code"]) for truth, alts in asked)
        share = len(asked) / len(parsed)
        print(f"  {margin:5.2f}  {share:6.1%}   {first / max(1, len(asked)):6.1%} ({first}/{len(asked)})"
              f"              {buttons / max(1, len(asked)):6.1%}")
    top1 = sum(alts and alts[0]["code"] == truth for truth, alts in parsed)
    print(f"  first guess right overall: {top1 / len(parsed):.1%}")


@dataclass
class Tally:
    tickets: int = 0
    location: int = 0
    contact: int = 0
    both: int = 0
    region_right: int = 0
    with_region: int = 0
    questions: int = 0
    department_changed: int = 0
    not_understood: int = 0
    clarifying: int = 0

    def line(self, name: str) -> str:
        n = max(1, self.tickets)
        return (f"  {name:<7} tickets {self.tickets:3d}  location {self.location / n:6.1%}  contact {self.contact / n:6.1%}"
                f"  both {self.both / n:6.1%}  right county {self.region_right}/{self.with_region}"
                f"  questions {self.questions} (clarifying {self.clarifying}, answers not understood {self.not_understood})"
                f"  department set by the answer {self.department_changed}")


async def through_intake(nlu: NluClient, directory: Directory, url: str) -> Tally:
    items = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["examples"]
    engine = create_engine(url)
    sessions = session_factory(engine)
    rules = IntakeRules(sessions, directory)
    tally = Tally()

    async def classify(text: str) -> Classification:
        return classification_of(await nlu.parse(text))

    try:
        for i, item in enumerate(items):
            at = START + timedelta(hours=i)
            sender = f"bench-{i}"
            contact = ContactInfo(phone=item.get("phone"),
                                  wechat_openid=sender if item["channel"] == "wechat" else None)

            def message(text: str, minutes: float, channel: str = item["channel"], sender: str = sender,
                        at: datetime = at, contact: ContactInfo = contact) -> Message:
                return Message(text, channel, sender, at + timedelta(minutes=minutes), contact)

            async with sessions() as session, session.begin():
                outcome = await rules.take_in(session, message(item["text"], 0), await classify(item["text"]))
            if outcome.ticket_no is None:
                continue  # the bot answered a consultation itself
            state, minutes = outcome.dialogue, 0.0
            answers = item.get("answers") or {}
            while state and state.get("pending"):
                tally.questions += 1
                pending = state["pending"]
                kind = pending["kind"]
                answer = answers.get(kind)
                if kind == CLARIFY:
                    tally.clarifying += 1
                    wanted = answers.get("department")
                    names = dict(zip(pending["choices"], pending["quick_replies"]))
                    answer = names.get(wanted, UNSURE)
                if answer is None:
                    break  # never answered: the release job hands it over
                minutes += 1
                text = SKIP if answer == "skip" else answer
                async with sessions() as session, session.begin():
                    outcome = await rules.take_in(session, message(text, minutes), await classify(text), state)
                if outcome.dialogue is None:
                    tally.not_understood += 1
                    break  # the answer was not understood: the question waits, this citizen says no more
                state = outcome.dialogue
            async with sessions() as session, session.begin():
                await release_due(session, rules.gatherer, at + timedelta(hours=1))
            async with sessions() as session:
                ticket = (await session.execute(select(Ticket).where(Ticket.number == outcome.ticket_no))).scalar_one()
            tally.tickets += 1
            located = bool(ticket.region and ticket.location_detail)
            reachable = bool(ticket.citizen_phone or ticket.citizen_wechat_openid)
            tally.location += located
            tally.contact += reachable
            tally.both += located and reachable
            if item.get("region"):
                tally.with_region += 1
                tally.region_right += ticket.region == item["region"]
            tally.department_changed += bool(answers.get("department")) and ticket.department == answers["department"]
    finally:
        await rules.aclose()
        await engine.dispose()
    return tally


async def before_after(nlu: NluClient) -> None:
    directory = load_directory()
    off = directory.model_copy(update={"gathering": directory.gathering.model_copy(update={"enabled": False})})
    print(f"\ntickets reaching an operator, {HELDOUT.relative_to(ROOT)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, chosen in (("before", off), ("after", directory)):
            url = f"sqlite+aiosqlite:///{tmp}/{name}.sqlite3"
            await asyncio.to_thread(upgrade, url)
            print((await through_intake(nlu, chosen, url)).line(name), flush=True)


async def main(rasa_url: str | None, skip_margins: bool) -> None:
    server = None
    if rasa_url is None:
        from nlu import training
        from nlu.server import RasaProcess

        server = RasaProcess(training.ensure_model(progress=True)).start()
        await server.wait_ready(timeout=600)
        rasa_url = server.url
    try:
        async with NluClient(rasa_url, timeout=30.0) as nlu:
            print(f"model {await nlu.model_version()}")
            if not skip_margins:
                await margins(nlu)
            await before_after(nlu)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rasa-url", default=None)
    parser.add_argument("--skip-margins", action="store_true", help="only the before/after figures")
    args = parser.parse_args()
    asyncio.run(main(args.rasa_url, args.skip_margins))
