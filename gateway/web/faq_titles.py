"""Chinese titles for the bot's FAQ answers, so staff pick a canned reply by its topic instead of the
model's response key (faq/channels). Answers admins add later get their first clause as a title."""

from __future__ import annotations

import re

# The shipped answers of nlu/faq_answers.yml.
FAQ_TITLES: dict[str, str] = {
    "faq/service_hours": "热线服务时间",
    "faq/merged_hotlines": "已并入12345的热线",
    "faq/parallel_hotlines": "与12345并行的热线",
    "faq/county_hotlines": "县（市、区）热线并入12345",
    "faq/emergency_numbers": "紧急求助电话",
    "faq/follow_ticket": "查询工单办理进度",
    "faq/mayor_mailbox": "市长电子信箱与网民留言",
    "faq/network_hotline_hours": "网络热线人工服务时间",
    "faq/channels": "反映诉求的渠道",
}
TITLE_CHARS = 18
_CLAUSE = re.compile(r"[，。；：！？,.;:!?\n]")


def faq_title(key: str, answer: str) -> str:
    if key in FAQ_TITLES:
        return FAQ_TITLES[key]
    first = _CLAUSE.split(answer.strip(), maxsplit=1)[0].strip()
    if not first:
        return "常见问题答复"
    return first if len(first) <= TITLE_CHARS else first[:TITLE_CHARS] + "…"
