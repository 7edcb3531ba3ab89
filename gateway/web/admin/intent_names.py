"""Intents as admins read them: the model's keys (dept_urban_management, faq/service_hours) named in
Chinese from the directory and the answers, so nobody has to know the codes."""

from __future__ import annotations

import re

from config.directory import Directory

FIXED = {"greet": "问候", "thanks": "致谢", "out_of_scope": "与热线无关",
         "letter_frame": "来信的套语（称呼、自述、落款等，不作分类）"}
TITLE_CHARS = 18
_CLAUSE = re.compile(r"[，。；：！？,.;:!?\n]")


def answer_title(text: str) -> str:
    """An FAQ answer's first clause, short enough to name the topic in a list."""
    first = _CLAUSE.split(text.strip(), maxsplit=1)[0].strip()
    return first if len(first) <= TITLE_CHARS else first[:TITLE_CHARS] + "…"


def intent_labels(names: list[str], directory: Directory, answers: dict[str, str]) -> dict[str, str]:
    departments = {d.code: d.name for d in directory.departments}
    hotlines = {h.code: f"{h.name}（{h.hotline}）" for h in directory.non_integrated_hotlines}
    emergencies = {e.kind: f"紧急求助：{e.name}（{e.number}）" for e in directory.emergency_numbers}
    types = {t.code: t.name for t in directory.request_types}
    out = {}
    for name in names:
        head, _, code = name.partition("_")
        if name in FIXED:
            out[name] = FIXED[name]
        elif name.startswith("faq/") and answers.get(name):
            out[name] = "常见问题：" + answer_title(answers[name])
        elif head == "dept" and code in departments:
            out[name] = departments[code]
        elif head == "hotline" and code in hotlines:
            out[name] = hotlines[code]
        elif head == "emergency" and code in emergencies:
            out[name] = emergencies[code]
        elif name in types:
            out[name] = types[name]
    return out
