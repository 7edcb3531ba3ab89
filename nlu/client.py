"""HTTP client of the Rasa NLU server, used by the gateway.

`NluClient.parse(text)` calls Rasa's `POST /model/parse` and turns the raw prediction into the
gateway's contract (`NluResult.to_dict()`, the body of `POST /api/v1/nlu/parse`):

    {"request_type", "request_type_alternatives": [{"code", "confidence"}] <= 3,
     "department", "department_alternatives": [{"code", "confidence"}] x3,
     "region", "emergency": {"number", "kind"} | null, "faq": {"key", "answer"} | null,
     "handoff": bool, "intent": {"name", "confidence"} | null, "model": version | null}

It never raises. When Rasa is down, slow or answers nonsense, the result says so (`handoff: true`,
nothing classified) and the message becomes an unclassified ticket. The emergency safety net
(nlu/emergency.py) runs locally, so an emergency is still recognised without the server.

`base_url` may name several Rasa servers serving the same model, comma-separated (`hotline run` with
HOTLINE_NLU_PROCESSES > 1, or RASA_URL in production): nlu/servers.py spreads the parses over them,
at most a few on each, in batches, earliest deadline first. The same text asked again while its parse
is in flight, or within `SHARE_SECONDS` of its answer, shares that one parse (a citizen sending twice,
a WeChat retry, the console's hints while typing).

`handoff` means "a person has to take this message over": Rasa unavailable, the classification not
confident enough, out of scope, or an emergency (an urgent record operators must see). It is false
when the bot answered by itself (`faq`) or when the department pre-classification is confident
enough to dispatch. Thresholds: nlu/thresholds.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from config.directory import Directory, load_directory
from nlu import emergency as emergency_rules
from nlu import hotline_topics, pleasantries, type_ranking
from nlu import request_type as request_type_rules
from nlu.regions import Gazetteer
from nlu.servers import PER_SERVER, RasaPool
from nlu.textnorm import to_simplified
from nlu.thresholds import DEFAULT as DEFAULT_THRESHOLDS
from nlu.thresholds import Thresholds

log = logging.getLogger(__name__)

ANSWERS_PATH = Path(__file__).with_name("faq_answers.yml")

# Intents whose answer the bot gives by itself (key = intent name in faq_answers.yml).
ANSWERED_INTENTS = ("hotline_weather", "hotline_tax", "hotline_housing_fund", "greet", "thanks")
FAQ_INTENT = "faq"
FALLBACK_INTENT = "nlu_fallback"
DEPT_PREFIX = "dept_"
EMERGENCY_PREFIX = "emergency_"
POLLUTION_DEPARTMENT = "ecology_environment"
MODEL_VERSION_TTL = 30.0  # seconds a /status answer is reused; a hot swap shows up within this time
SHARE_SECONDS = 2.0  # an answer of Rasa is reused for the same text this long
SHARED_ANSWERS = 512  # at most this many recent answers are kept
CHITCHAT_INTENTS = ("greet", "thanks")
# Greetings and thanks of the training data are at most 22 characters; a letter starts at 60.
CHITCHAT_MAX_CHARS = 60


@dataclass(frozen=True)
class NluResult:
    request_type: str | None = None
    # The request-type classifier's ranking, `request_type` first; [] when the rules decided the type.
    request_type_alternatives: list[dict] = field(default_factory=list)  # [{"code", "confidence"}] <= 3
    department: str | None = None
    department_alternatives: list[dict] = field(default_factory=list)  # [{"code", "confidence"}] x3
    region: str | None = None
    emergency: dict | None = None  # {"number", "kind"}
    faq: dict | None = None  # {"key", "answer"}
    handoff: bool = True
    intent: dict | None = None  # {"name", "confidence"}
    model: str | None = None

    def to_dict(self) -> dict:
        """The JSON contract of `POST /api/v1/nlu/parse` (issue 3)."""
        return asdict(self)


def load_answers(path: str | Path | None = None, directory: Directory | None = None) -> dict[str, str]:
    """FAQ answer texts by key, placeholders filled from the directory.

    The YAML uses folded blocks for readability; folding puts a space at each line break, which is
    wrong in Chinese, so a space next to a non-ASCII character is dropped.
    """
    path = Path(path) if path else ANSWERS_PATH
    directory = directory or load_directory()
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    values = {
        "network_start": directory.network_hotline.shift_start,
        "network_end": directory.network_hotline.shift_end,
    }
    out = {}
    for key, text in raw.items():
        text = re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", str(text).strip())
        out[str(key)] = text.format_map(_Keep(values))
    return out


def _department_ranking(ranking: list[dict]) -> list[dict]:
    """The departments of Rasa's intent ranking, best first: [{"code", "confidence"}]."""
    return [
        {"code": r["name"][len(DEPT_PREFIX):], "confidence": round(float(r["confidence"]), 4)}
        for r in ranking
        if str(r["name"]).startswith(DEPT_PREFIX)
    ]


class _Keep(dict):
    """format_map helper: an unknown {placeholder} is left as it is instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


_NUMBER = re.compile(r"(?<!\d)\d{3,7}(?!\d)")


def hotline_number_keys(directory: Directory) -> dict[str, str]:
    """Which answer covers which telephone number (from the directory, never typed twice)."""
    keys: dict[str, str] = {}
    for dept in directory.departments:
        if dept.hotline and dept.integration in ("merged", "parallel"):
            keys[dept.hotline] = f"faq/{dept.integration}_hotlines"
    for region in directory.regions:
        if region.former_hotline:
            keys[region.former_hotline] = (
                "faq/county_hotlines" if region.role == "remote_seat" else "faq/merged_hotlines"
            )
    for hotline in directory.non_integrated_hotlines:
        keys[hotline.hotline] = f"hotline_{hotline.code}"
    for number in directory.emergency_numbers:
        keys[number.number] = "faq/emergency_numbers"
    return keys


class NluClient:
    def __init__(
        self,
        base_url: str | None,
        *,
        timeout: float = 2.0,
        session: aiohttp.ClientSession | None = None,
        answers_path: str | Path | None = None,
        directory: Directory | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        per_server: int = PER_SERVER,
    ) -> None:
        self.servers = RasaPool(base_url, timeout=timeout, session=session, per_server=per_server)
        self._inflight: dict[str, asyncio.Future[dict | None]] = {}
        self._recent: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self.thresholds = thresholds
        self._directory = directory or load_directory()
        self._answers_path = answers_path
        self.answers = load_answers(answers_path, self._directory)
        self.gazetteer = Gazetteer(self._directory)
        self._number_keys = hotline_number_keys(self._directory)
        self._emergency_department = {e.kind: e.department for e in self._directory.emergency_numbers if e.department}
        self._model: str | None = None
        self._model_checked = 0.0

    # ---------------------------------------------------------------- servers

    @property
    def base_url(self) -> str | None:
        """The Rasa server(s), comma-separated; None when there is none."""
        return self.servers.base_url

    @base_url.setter
    def base_url(self, value: str | None) -> None:
        before = self.servers.urls
        self.servers.base_url = value
        if self.servers.urls != before:
            self._recent.clear()  # another server may serve another model

    @property
    def urls(self) -> tuple[str, ...]:
        return self.servers.urls

    @property
    def timeout(self) -> float:
        """Seconds a parse sent to Rasa is given (raised during a model swap)."""
        return self.servers.timeout

    @timeout.setter
    def timeout(self, value: float) -> None:
        self.servers.timeout = value

    @property
    def expired(self) -> int:
        return self.servers.expired

    @property
    def rasa_requests(self) -> int:
        """Parses actually sent to a server (the rest were shared)."""
        return self.servers.rasa_requests

    @property
    def rasa_batches(self) -> int:
        return self.servers.rasa_batches

    # ---------------------------------------------------------------- public API

    async def parse(self, text: str, *, deadline: float | None = None) -> NluResult:
        """Classify one citizen message. Never raises.

        ``deadline`` (``time.monotonic()`` clock): a parse that could not start by then hands off
        instead (the caller's reply is due); a parse already sent gets its full ``timeout``."""
        text = text if isinstance(text, str) else ""
        assessment = emergency_rules.assess(text)
        raw = await self._rasa_parse(text, deadline) if text.strip() else None
        if raw is None:
            return self._unavailable(assessment)
        try:
            return self._interpret(text, raw, assessment, await self._cached_model())
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            # A Rasa answer of an unexpected shape (another Rasa version, a proxy error page...).
            log.warning("NLU: unexpected /model/parse answer (%s): %.200r", exc, raw)
            return self._unavailable(assessment)

    async def healthy(self) -> bool:
        """True when the Rasa server answers and has a model loaded."""
        return await self.model_version() is not None

    async def model_version(self) -> str | None:
        """Name of the loaded model (the model file name without .tar.gz), from `GET /status`."""
        data = await self.servers.get_json("/status")
        if not isinstance(data, dict) or not data.get("model_file"):
            return None
        name = Path(str(data["model_file"])).name
        self._model = name.removesuffix(".tar.gz")
        self._model_checked = time.monotonic()
        return self._model

    def hotline_keys(self, text: str) -> list[str]:
        """Answer keys of the directory's hotline numbers named in the text, in order of mention."""
        found = []
        for m in _NUMBER.finditer(text):
            key = self._number_keys.get(m.group(0))
            if key and key not in found:
                found.append(key)
        return found

    def answer_for(self, key: str) -> str | None:
        """An answer text by key (also the emergency reply texts `emergency_<kind>`)."""
        return self.answers.get(key)

    def reload_answers(self) -> None:
        """Re-read faq_answers.yml (an admin edited an answer; no retraining needed)."""
        self.answers = load_answers(self._answers_path, self._directory)

    async def close(self) -> None:
        await self.servers.close()

    async def __aenter__(self) -> NluClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---------------------------------------------------------------- Rasa's answers

    def _http(self) -> aiohttp.ClientSession:
        return self.servers.http()

    async def _rasa_parse(self, text: str, deadline: float | None = None) -> dict | None:
        # The model was trained mostly on simplified characters: send it the simplified form.
        simplified = to_simplified(text)
        now = time.monotonic()
        if (hit := self._recent.get(simplified)) is not None and hit[0] > now:
            return hit[1]
        if (pending := self._inflight.get(simplified)) is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[dict | None] = asyncio.get_running_loop().create_future()
        self._inflight[simplified] = future
        try:
            data = await self.servers.parse(simplified, deadline)
        except BaseException:
            future.set_result(None)  # whoever shares it hands off instead of waiting forever
            raise
        finally:
            self._inflight.pop(simplified, None)
        if not future.done():
            future.set_result(data)
        if data is not None:
            self._recent[simplified] = (time.monotonic() + SHARE_SECONDS, data)
            self._recent.move_to_end(simplified)
            while len(self._recent) > SHARED_ANSWERS:
                self._recent.popitem(last=False)
        return data

    async def _cached_model(self) -> str | None:
        if self._model is None or time.monotonic() - self._model_checked > MODEL_VERSION_TTL:
            await self.model_version()
        return self._model

    # ---------------------------------------------------------------- interpretation

    def _emergency_departments(self, kind: str, alternatives: list[dict]) -> list[dict]:
        """Three departments of an emergency's ticket: its number's department first (directory.yaml), then the
        classifier's `alternatives` (every department of its ranking, best first)."""
        department = self._emergency_department.get(kind)
        if department:
            own = next((a for a in alternatives if a["code"] == department), {"code": department, "confidence": 0.0})
            alternatives = [own, *(a for a in alternatives if a["code"] != department)]
        return alternatives[:3]

    def _unavailable(self, assessment: emergency_rules.Assessment) -> NluResult:
        # No department even for an emergency: an unclassified ticket is what the backfill parses again once
        # the classifier answers (gateway/worker/reclassify.py).
        emergency = emergency_rules.emergency_for(assessment.kind) if assessment.kind else None
        return NluResult(emergency=emergency, handoff=True)

    def _interpret(
        self, text: str, raw: dict, assessment: emergency_rules.Assessment, model: str | None
    ) -> NluResult:
        th = self.thresholds
        ranking = [r for r in raw.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT]
        if not ranking and raw.get("intent", {}).get("name") not in (None, FALLBACK_INTENT):
            ranking = [raw["intent"]]
        if not ranking:
            return self._unavailable(assessment)
        fell_back = (raw.get("intent") or {}).get("name") == FALLBACK_INTENT
        top = ranking[0]
        top_name, top_conf = str(top["name"]), float(top["confidence"])

        departments = _department_ranking(ranking)
        alternatives = list(departments)
        if assessment.pollution:
            # Smoke or fumes told as a nuisance: the environment department's matter, whatever the
            # classifier made of the smoke words (issue 16: never 119 for a barbecue).
            alternatives.sort(key=lambda a: a["code"] != POLLUTION_DEPARTMENT)
        alternatives = alternatives[:3]
        # Always a department (the best one) even when a person has to confirm it.
        best_department = alternatives[0]["code"] if alternatives else None
        region = self._region(text, raw.get("entities") or [])
        intent = {"name": top_name, "confidence": round(top_conf, 4)}
        common = dict(department_alternatives=alternatives, region=region, model=model)

        def typed() -> dict[str, Any]:
            """A ticket's request type: the classifier's, with its ranking, or the rules' when it gave none."""
            return dict(request_type=request_type_rules.classify(text, raw.get("request_type")),
                        request_type_alternatives=type_ranking.alternatives(raw.get("request_type")))

        def answered(key: str, confidence: float) -> NluResult:
            """The bot answers ``key`` itself (an answer of faq_answers.yml): no ticket."""
            return NluResult(faq={"key": key, "answer": self.answers[key]}, handoff=False,
                             intent={"name": key, "confidence": round(confidence, 4)}, **common)

        # 0. Nothing but a greeting or thanks: the bot answers (the classifier alone missed a third of
        #    them, nlu/pleasantries.py); an emergency word is never a pleasantry.
        pleasantry = None if assessment.kind else pleasantries.kind(text)
        if pleasantry and pleasantry in self.answers:
            return answered(pleasantry, 1.0)

        # 1. Emergencies: the rules decide; the classifier adds recall above its threshold; a
        #    negated message (past event, fees, prevention...) is never an emergency.
        kind = None
        clf_kind = top_name[len(EMERGENCY_PREFIX):] if top_name.startswith(EMERGENCY_PREFIX) else None
        if assessment.kind:
            # Several kinds named by specific words: let the classifier break the tie if it agrees with one of
            # them (a cry of 「救命」 beside 「楼道里全是烟」 names no second kind).
            kind = assessment.kind
            specific = assessment.specific_kinds
            if clf_kind in specific and len(specific) > 1 and not assessment.asked_number:
                kind = clf_kind
        elif clf_kind and top_conf >= th.emergency_intent and not assessment.negated:
            kind = clf_kind
        if kind:
            # The ticket follows the call to the department of its number (a street fight is the police's even
            # when the classifier's department words lean to civil affairs), the classifier's others behind it.
            ranked = self._emergency_departments(kind, departments)
            return NluResult(
                request_type="help",
                department=ranked[0]["code"] if ranked else best_department,
                emergency=emergency_rules.emergency_for(kind),
                handoff=True,
                intent=intent,
                **{**common, "department_alternatives": ranked or alternatives},
            )

        # Not an emergency: the other intents are read at their confidence given that it is no emergency (the
        # emergency intents' share taken out), and an emergency intent the rules overruled (「120急救车收费标准」)
        # gives way to the best other one: a question about the numbers that reads like a call for help must not
        # fall below the FAQ's threshold because the classifier heard an emergency in it.
        others = [r for r in ranking if not str(r["name"]).startswith(EMERGENCY_PREFIX)]
        emergency_share = sum(float(r["confidence"]) for r in ranking if r not in others)
        if others and 0.0 < emergency_share < 1.0:
            ranking = [{**r, "confidence": min(1.0, float(r["confidence"]) / (1.0 - emergency_share))} for r in others]
            top = ranking[0]
            top_name, top_conf = str(top["name"]), float(top["confidence"])
            intent = {"name": top_name, "confidence": round(top_conf, 4)}

        # A letter that thanks or greets at length is praise or a matter for a unit, not chit-chat
        # (issue 16: a 213-character praise letter got the bot's 「不客气」): the best other intent.
        if top_name in CHITCHAT_INTENTS and len(text) >= CHITCHAT_MAX_CHARS:
            ranking = [r for r in ranking if str(r["name"]) not in CHITCHAT_INTENTS] or ranking
            top = ranking[0]
            top_name, top_conf = str(top["name"]), float(top["confidence"])
            intent = {"name": top_name, "confidence": round(top_conf, 4)}

        # 2. The bot answers by itself: FAQ retrieval intents, non-integrated hotlines, chit-chat.
        if top_name == FAQ_INTENT or top_name in ANSWERED_INTENTS:
            if top_name == FAQ_INTENT:
                selected = (raw.get("response_selector") or {}).get(FAQ_INTENT, {}).get("response", {})
                key = selected.get("intent_response_key")
                key_conf = float(selected.get("confidence") or 0.0)
                threshold = th.faq_intent
            else:
                key, key_conf, threshold = top_name, 1.0, th.answer_intent
            # A hotline number of the directory in the question decides which answer it is
            # (「12319还能打吗」 is about the merged hotlines whatever the FAQ selector thinks).
            by_number = self.hotline_keys(text)
            if len(by_number) == 1 or (by_number and key not in by_number):
                key, key_conf = by_number[0], 1.0
            elif not by_number and (topic := hotline_topics.key_for(text)):
                key, key_conf = topic, 1.0  # 「开发票的问题找哪里」 is 12366's, whatever the wording
            if key and (key in by_number or (not by_number and key == hotline_topics.key_for(text))):
                # The classifier's "the bot answers" and the question's own number or topic words agree
                # (「开发票的问题找哪里」: 0.48): two independent signals, so a lower floor.
                threshold = min(threshold, th.agreed_answer)
            answer = self.answers.get(key) if key else None
            intent = {"name": key or top_name, "confidence": round(top_conf, 4)}
            # (The FallbackClassifier's nlu_fallback is not used here: its floor is below these
            # thresholds, which were chosen on held-out data.)
            if answer and top_conf >= threshold and key_conf >= th.faq_response:
                return NluResult(faq={"key": key, "answer": answer}, handoff=False, intent=intent, **common)
            if (asked := self._asked_hotline(text, assessment)) and (key is None or asked == key):
                # The bot was to answer, but unsure; a short question on one hotline's topic settles it.
                return answered(asked, top_conf)
            return NluResult(
                department=best_department, handoff=True, intent=intent, **typed(), **common,
            )

        # 3. A short question on a non-integrated hotline's topic that the classifier cannot place
        #    (「下礼拜还冷不冷，要不要加衣服」: a department at 0.38) gets that hotline's answer.
        if top_name.startswith(DEPT_PREFIX) and top_conf < th.unsure_topic and (key := self._asked_hotline(text, assessment)):
            return answered(key, top_conf)

        # 4. A ticket: department pre-classification, request type, region.
        department = best_department
        handoff = True
        if top_name.startswith(DEPT_PREFIX) and department == top_name[len(DEPT_PREFIX):]:
            handoff = fell_back or top_conf < th.department_auto
        return NluResult(
            department=department,
            handoff=handoff,
            intent=intent,
            **typed(),
            **common,
        )

    def _asked_hotline(self, text: str, assessment: emergency_rules.Assessment) -> str | None:
        """The non-integrated hotline a short question asks about, unless its words tell a matter
        (a complaint, a report, a call for help, pollution) that a unit must handle."""
        key = hotline_topics.asked_key(text)
        if not key or key not in self.answers or assessment.pollution:
            return None
        told = request_type_rules.scores(text)
        return None if any(told[kind] for kind in ("complaint", "report", "help")) else key

    def _region(self, text: str, entities: list[dict]) -> str | None:
        """Gazetteer first (deterministic, handles traditional characters); model entities as backup."""
        found = self.gazetteer.find(text)
        if found:
            return found
        for ent in entities:
            if ent.get("entity") == "region" and ent.get("value"):
                code = self.gazetteer.canonical(str(ent["value"]))
                if code:
                    return code
        return None
