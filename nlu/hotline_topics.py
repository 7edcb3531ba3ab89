"""The topic of a question that one of the non-integrated hotlines (12121, 12366, 12329) answers.

Why: the FAQ selector chooses among similar questions by their wording (the ResponseSelector before it
took 「开发票的问题找哪里」 for 「停电了找哪里」 and got the utilities' answer). When the classifier has already decided the bot
answers, a question whose words belong to one hotline's topic gets that hotline's answer, as a
number in the question does (nlu/client.py, `hotline_keys`).
"""

from __future__ import annotations

import re

from nlu.textnorm import normalize

TOPICS: dict[str, re.Pattern[str]] = {
    "hotline_tax": re.compile(r"发票|个税|个人所得税|纳税|税务|报税|退税|汇算|增值税|契税|印花税|房产税|购置税|税费|缴税|交税|完税|税率"),
    "hotline_housing_fund": re.compile(r"公积金"),
    "hotline_weather": re.compile(r"天气|气象|天气预报"),
}


def key_for(text: str) -> str | None:
    """The answer key of the one hotline whose topic the text names (None: none or several)."""
    norm = normalize(text)
    found = [key for key, rx in TOPICS.items() if rx.search(norm)]
    return found[0] if len(found) == 1 else None
