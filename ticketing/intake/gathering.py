"""What a chat ticket still lacks, the bot's short questions about it, and how answers are read (issue #19).

Why the gateway keeps this dialogue and not Rasa (forms, slots, a tracker store): our Rasa serves NLU only
(no policies, no core model), and a form would need a dialogue model trained beside the NLU inside the
five-minute training budget, a second store (Rasa's tracker) for the same conversation, and Rasa up for a
ticket to be complete.  Here the worker keeps the durability rules as they are: the message is in the
stream before anything is asked; the ticket is created once, with the first message, in the ``gathering``
status (hidden from the operators' queue); every answer is stored in the same transaction as its entry.
What is asked now (the open question, the questions asked so far) is the conversation's dialogue state,
kept by the worker in Redis with a TTL (``gateway/worker/dialogue.py``); this module is given it and
returns the next one, and knows nothing of Redis.  A lost state costs a question, never a ticket: the
release job sends every ticket still gathering after ``answer_within_minutes`` to the queue.

The slots a request needs come from ``config/directory.yaml`` (``gathering``): location (a region code for
the routing + the street, community or landmark), the event's time, and a phone where the channel has
no way back to the citizen.  Region names come from the NLU's gazetteer (the classification of each
message) and the directory's aliases; a place within the region from an address pattern.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from config.directory import Directory
from ticketing.db.models.tickets import Conversation, Ticket
from ticketing.intake.contact_details import phone_in_text
from ticketing.intake.contract import Classification, IntakeMessage
from ticketing.tickets import store
from ticketing.tickets.lifecycle import Action, Status

CLARIFY = "department"  # the clarifying question's kind; the others are slot names
SHORT_ANSWER = 20  # characters: the longest clarifying answer the NLU's department may decide
SKIP = "不方便提供"
UNSURE = "都不是"
_SKIP_WORDS = frozenset({SKIP, "0", "跳过", "不方便", "不提供", "不知道", "不清楚", "不想说", "算了", "不用了", "无",
                         "没有", "不记得", "记不清", "不确定", UNSURE})
_NOISE = re.compile(r"[\s，。,.!！~～、？?]+")
# What people say that answers nothing ("好的" is no place and no time).
_FILLER = frozenset({"好", "好的", "嗯", "嗯嗯", "哦", "行", "可以", "是的", "对", "谢谢", "收到", "知道了", "在吗", "你好",
                     "您好", "人工", "转人工"})

SLOT_LABELS = {"location": "事发地点", "time": "发生时间", "contact_phone": "联系电话", CLARIFY: "承办部门"}
GAP_REASONS = {"declined": "群众表示不方便提供", "unanswered": "群众未在时限内答复", "one_shot": "渠道无法追问",
               "incomplete": "群众答复不完整", "urgent": "紧急情况，直接转人工",
               "not_asked": "已达追问上限", "operator": "人工已接手"}

# A place within a region: a name ending in a road, street, estate, village or landmark word, with
# what usually follows it (与…路交叉口, 12号, 东段, 门口).  "路灯" or "路面" is no road.
_PLACE_WORD = (r"(?:大道|大街|街道|路|街|巷|胡同|小区|社区|新村|家园|花园|广场|公园|市场|村|镇|乡|小学|中学|学校|医院|"
               r"商场|大厦|号院|号楼|车站|站|桥|苑|城)")
_ADDRESS = re.compile(
    r"((?:[\u4e00-\u9fa5A-Za-z0-9]{1,12}?" + _PLACE_WORD + r"(?![灯面况边摊费线牌]))+"
    r"(?:与[\u4e00-\u9fa5]{1,8}?(?:路|街|大道)|[0-9一二三四五六七八九十]+号(?:楼|院)?|[东南西北]段|交叉口|十字路口|路口|"
    r"[东南西北后正大侧]门|门口|口|附近|对面|旁边|东侧|西侧|南侧|北侧)*)"
)
# What a place name must not begin with: the citizen's own vague words.
_VAGUE_START = re.compile(r"^(?:我们家|我家|我们|咱们|咱|这个|那个|这里|那里|这边|那边|附近|一个|某个|某|在|于|的|就在|是)+")
_GENERIC_PLACES = frozenset({"小区", "社区", "马路", "道路", "公路", "街道", "村", "镇", "乡", "学校", "医院", "市场", "公园",
                             "广场", "车站", "大街", "城", "路"})
_TIME = re.compile(
    r"(今天|昨天|前天|今早|今晨|昨晚|昨夜|今晚|前晚|刚才|刚刚|凌晨|上午|中午|下午|傍晚|晚上|夜里|半夜|深夜|每天|天天|每晚|"
    r"每周|周末|最近|近期|这几天|这两天|连续|一直|经常|长期|多日|好几天|几天了|一周|一个月|半个月|"
    r"\d{1,2}\s*[点时](?:\d{1,2}分?|半)?|[一二三四五六七八九十两]+点|\d{1,2}\s*月\s*\d{1,2}\s*[日号]|"
    r"星期[一二三四五六日天]|周[一二三四五六日天]|\d+\s*(?:天|日|周|个月|年)(?:前|以来|了))"
)


@dataclass(frozen=True)
class Question:
    kind: str  # location | time | contact_phone | department
    text: str
    quick_replies: tuple[str, ...]
    # For the clarifying question: the department code of each button (in order).
    choices: tuple[str, ...] = ()


@dataclass
class Dialogue:
    """The conversation's dialogue state (kept in Redis by the worker, as :meth:`to_state`)."""

    ticket_no: str
    asked: list[str] = field(default_factory=list)
    pending: Question | None = None

    def to_state(self, expires_at: datetime) -> dict[str, Any]:
        pending = self.pending
        return {"ticket_no": self.ticket_no, "asked": list(self.asked), "expires_at": expires_at.isoformat(),
                "pending": None if pending is None else {"kind": pending.kind, "text": pending.text,
                                                         "quick_replies": list(pending.quick_replies),
                                                         "choices": list(pending.choices)}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> Dialogue | None:
        if not state or not state.get("ticket_no"):
            return None
        raw = state.get("pending") or None
        pending = None if raw is None else Question(str(raw["kind"]), str(raw["text"]),
                                                    tuple(raw.get("quick_replies") or ()),
                                                    tuple(raw.get("choices") or ()))
        return cls(str(state["ticket_no"]), [str(kind) for kind in state.get("asked") or ()], pending)


_AROUND = re.compile(r"(?:[东南西北后正大侧]门|门口|口|附近|对面|旁边|里|[东南西北]侧)*$")


def place_in(text: str) -> str | None:
    """The street, community or landmark named in the text (the first one, with what follows it);
    "小区门口" or "马路上" names none."""
    for match in _ADDRESS.finditer(text or ""):
        place = _VAGUE_START.sub("", match.group(1))
        core = _AROUND.sub("", place)
        if len(core) >= 3 and core not in _GENERIC_PLACES:
            return place[:200]
    return None


def time_in(text: str) -> str | None:
    match = _TIME.search(text or "")
    return match.group(1) if match else None


def region_in(directory: Directory, text: str) -> str | None:
    """A region named in the text by its directory name or alias (the longest name wins)."""
    best: tuple[int, str] | None = None
    for region in directory.regions:
        for alias in (region.name, *region.aliases):
            if alias and alias in (text or "") and (best is None or len(alias) > best[0]):
                best = (len(alias), region.code)
    return best[1] if best else None


def is_skip(text: str) -> bool:
    return _NOISE.sub("", text or "") in _SKIP_WORDS


class Gatherer:
    """The gathering rules of one directory."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.config = directory.gathering

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.config.answer_within_minutes)

    def asks_on(self, channel: str) -> bool:
        return self.config.enabled and channel in self.config.asking_channels

    def needed(self, ticket_channel: str, request_type: str | None, department: str | None) -> tuple[str, ...]:
        slots = self.config.slots_for(request_type, department)
        if ticket_channel in self.config.contact_known_channels:
            slots = tuple(slot for slot in slots if slot != "contact_phone")
        return slots

    # -- what a message already says ---------------------------------------------------------

    def first_fields(self, message: IntakeMessage, region: str | None, classified: bool) -> dict[str, str]:
        """The structured fields the first message fills by itself (stored on every new ticket); the
        region too when the NLU answered but missed a name of the directory (without the NLU a
        ticket stays unclassified, region included, for the late classification)."""
        found: dict[str, str] = {}
        if classified and not region and (named := region_in(self.directory, message.text)):
            found["region"] = named
        if place := place_in(message.text):
            found["location_detail"] = place
        if when := time_in(message.text):
            found["event_time"] = when
        return found

    def missing(self, channel: str, request_type: str | None, department: str | None, *, region: str | None,
                location_detail: str | None, event_time: str | None, phone: str | None) -> list[str]:
        have = {"location": bool(region and location_detail), "time": bool(event_time), "contact_phone": bool(phone)}
        return [slot for slot in self.needed(channel, request_type, department) if not have[slot]]

    def missing_on(self, ticket: Ticket) -> list[str]:
        return self.missing(ticket.channel, ticket.request_type, ticket.department, region=ticket.region,
                            location_detail=ticket.location_detail, event_time=ticket.event_time,
                            phone=ticket.citizen_phone)

    def torn_between(self, classification: Classification) -> tuple[str, str] | None:
        """The two departments to ask about, when the NLU found them too close to call."""
        torn = classification.torn
        if not (self.config.clarify_departments and torn and len(torn) == 2):
            return None
        codes = self.directory.department_codes
        return (torn[0], torn[1]) if torn[0] in codes and torn[1] in codes and torn[0] != torn[1] else None

    def would_ask(self, message: IntakeMessage, classification: Classification,
                  region: str | None, department: str | None, request_type: str | None) -> bool:
        """Whether a new ticket of this message starts a dialogue (the rules and the batch path alike)."""
        if not self.asks_on(message.channel) or self.config.max_questions == 0 or classification.emergency:
            return False
        if not classification.classified or message.metadata.get("force_ticket"):
            # Without the NLU the bot cannot tell what the request needs; a web form is no chat.
            return False
        if self.torn_between(classification):
            return True
        fields = self.first_fields(message, region, classification.classified)
        phone = message.contact.phone or phone_in_text(message.text)
        return bool(self.missing(message.channel, request_type, department, region=fields.get("region", region),
                                 location_detail=fields.get("location_detail"), event_time=fields.get("event_time"),
                                 phone=phone))

    # -- the questions ----------------------------------------------------------------------

    def next_question(self, ticket: Ticket, asked: Sequence[str], channel: str,
                      torn: tuple[str, str] | None = None) -> Question | None:
        if len(asked) >= self.config.max_questions:
            return None
        if torn and CLARIFY not in asked:
            return self.clarifying_question(torn, channel)
        for slot in self.missing_on(ticket):
            if slot not in asked:
                return self.slot_question(slot, ticket, channel)
        return None

    def clarifying_question(self, torn: tuple[str, str], channel: str) -> Question:
        first, second = (self.directory.department(code).name for code in torn)
        text = f"您反映的是{first}的事项，还是{second}的事项？"
        if channel == "wechat":
            text += f"回复1：{first}；回复2：{second}；不清楚请回复0。"
        return Question(CLARIFY, text, (first, second, UNSURE), torn)

    def slot_question(self, slot: str, ticket: Ticket, channel: str) -> Question:
        counties = tuple(region.name for region in self.directory.regions)
        wechat = channel == "wechat"
        if slot == "location":
            if ticket.region and not ticket.location_detail:
                name = self.directory.region(ticket.region).name
                text = f"为便于承办单位尽快处理，请问具体在{name}哪条路、哪个小区或什么地标附近？"
                replies: tuple[str, ...] = (SKIP,)
            elif ticket.location_detail and not ticket.region:
                text = f"请问{ticket.location_detail}在哪个县（市、区）？"
                replies = (*counties, SKIP)
            else:
                text = "为便于承办单位尽快处理，请问事情发生在哪里？请告诉我们县（市、区）和街道、小区或路名。"
                replies = (*counties, SKIP)
            if wechat:
                text += "（如：新华区建设路与光明路交叉口）不方便提供请回复0。"
            return Question(slot, text, replies)
        if slot == "time":
            text = "请问这件事是什么时候发生的？持续了多久？"
            if wechat:
                text += "不方便提供请回复0。"
            return Question(slot, text, ("今天", "昨天", "持续一段时间了", SKIP))
        text = "为便于工作人员联系您、回访办理结果，请留下您的手机号（仅用于办理本工单，不会公开）。"
        if wechat:
            text += "不方便提供请回复0。"
        return Question("contact_phone", text, (SKIP,))

    # -- the answers ------------------------------------------------------------------------

    def read_answer(self, question: Question, text: str, classification: Classification,
                    ticket: Ticket) -> dict[str, Any] | None:
        """The ticket fields an answer fills ({} for a skip), or None when it does not answer the question
        (an ordinary follow-up: the question stays open)."""
        if is_skip(text):
            return {}
        word = _NOISE.sub("", text or "")
        if not word or word in _FILLER:
            return None
        if question.kind == CLARIFY:
            names = [self.directory.department(code).name for code in question.choices]
            for i, (code, name) in enumerate(zip(question.choices, names), start=1):
                if word in (str(i), name) or (len(word) >= 2 and (word in name or name in word)):
                    return {"department": code}
            # A short form names no button (「住建那边管的」, 「城管」): the NLU's reading of the answer decides
            # when it is one of the two; a longer message is a new matter, not an answer.
            if classification.department in question.choices and len(word) <= SHORT_ANSWER:
                return {"department": classification.department}
            return None
        if question.kind == "contact_phone":
            phone = phone_in_text(text)
            return {"citizen_phone": phone} if phone else None
        if question.kind == "time":
            when = time_in(text)
            if when is None and len(word) > 30:
                return None
            return {"event_time": (when if len(word) > 30 else word)[:100]}
        region = region_in(self.directory, text) or classification.region
        place = place_in(text)
        if not (region or place) and phone_in_text(text):
            return None  # a number to confirm (``contact_details``), not a place
        fields: dict[str, Any] = {}
        if region and region in self.directory.region_codes and region != ticket.region:
            fields["region"] = region
        if place:
            fields["location_detail"] = place
        elif not region and len(word) <= 40:
            # "就在医院后门" has no pattern a unit would miss: kept as the citizen said it.
            fields["location_detail"] = word[:200]
        elif region and not ticket.location_detail:
            rest = word
            for name in (self.directory.region(region).name, *self.directory.region(region).aliases):
                rest = rest.replace(name, "")
            if len(rest) >= 2:
                fields["location_detail"] = rest[:200]
        return fields or None

    def gaps(self, ticket: Ticket, reason: str) -> list[dict[str, str]]:
        """The gap list to keep: what was flagged before plus each still-missing slot with ``reason``."""
        gaps = [dict(gap) for gap in ticket.gathering_gaps or []]
        flagged = {gap["slot"] for gap in gaps}
        gaps += [{"slot": slot, "reason": reason} for slot in self.missing_on(ticket) if slot not in flagged]
        return gaps


async def hand_over(session: AsyncSession, gatherer: Gatherer, ticket: Ticket, reason: str, *, actor: str) -> None:
    """A gathering ticket goes to the operators' queue, with what it still lacks flagged (``reason``)."""
    if ticket.status != Status.GATHERING:
        return
    gaps = gatherer.gaps(ticket, reason)
    ticket.gathering_gaps = gaps or None
    ticket.gathering_until = None
    note = "信息已补充" if not gaps and reason == "not_asked" else GAP_REASONS.get(reason)
    await store.transition(session, ticket, Action.HAND_OVER, actor=actor, note=note)
    if gaps:
        await store.record_event(session, ticket, actor=actor, action="gaps_flagged",
                                 to_value="、".join(gap_labels(gaps))[:200], detail={"gaps": gaps})


@dataclass(frozen=True)
class Released:
    ticket_no: str
    channel: str
    sender_id: str | None  # the conversation whose dialogue state ends
    reason: str


async def release_due(session: AsyncSession, gatherer: Gatherer, now: datetime, *, limit: int = 500) -> list[Released]:
    """Every ticket whose question went unanswered past ``gathering_until``, or that an operator took
    meanwhile, goes to the queue with its gaps flagged (the worker's release job, in one transaction)."""
    stmt = (select(Ticket, Conversation.sender_id)
            .outerjoin(Conversation, Conversation.id == Ticket.conversation_id)
            .where(Ticket.status == Status.GATHERING.value,
                   or_(Ticket.gathering_until <= now, Ticket.gathering_until.is_(None), Ticket.assignee.is_not(None)))
            .order_by(Ticket.id).limit(limit).with_for_update(of=Ticket, skip_locked=True))
    released = []
    for ticket, sender_id in (await session.execute(stmt)).all():
        reason = "operator" if ticket.assignee is not None else "unanswered"
        await hand_over(session, gatherer, ticket, reason, actor="system")
        released.append(Released(ticket.number, ticket.channel, sender_id, reason))
    return released


def gap_labels(gaps: Sequence[Mapping[str, str]] | None) -> list[str]:
    """「事发地点（群众未在时限内答复）」 for the console and the desk."""
    return [f"{SLOT_LABELS.get(gap.get('slot', ''), gap.get('slot', ''))}（{GAP_REASONS.get(gap.get('reason', ''), '')}）"
            for gap in gaps or []]
