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
    # Any word with 税 in it (税款, 扣税, 免税...) is the tax bureau's.
    "hotline_tax": re.compile(r"发票|税|汇算"),
    "hotline_housing_fund": re.compile(r"公积金"),
    # Words of a forecast; not 「几度」 (电费多少度) nor 「高温」 alone (高温补贴 is the employer's matter).
    "hotline_weather": re.compile(
        r"天气|气象|预报|下雨|下雪|降雨|降雪|降温|升温|气温|冷不冷|热不热|刮风|风大不大|大风|雾霾|霜冻|暴雨|暴雪|台风|"
        r"寒潮|高温天气|冰雹|打雷|晴天|阴天|回暖|倒春寒"
    ),
}
# A short question (the forecast, a tax rule) is asked; a matter is told at more length.
SHORT_QUESTION_CHARS = 30
_QUESTION = re.compile(r"[?？]|[吗么嘛呢]$|多少|几|怎么|如何|哪|什么|是否|会不会|能不能|有没有|要不要|(.)不\1")
# Weather words are often the setting of a matter (「一下雨路上就积水，什么时候修」): a weather question
# asks about the weather itself, its question words next to the weather words.
_WEATHER_EVENT = r"(?:下雨|下雪|降雨|降雪|降温|升温|回暖|刮风|起风|打雷|下冰雹|结冰|霜冻|有雾|雾霾|冷|热|晴|阴)"
_FORECAST_QUESTION = re.compile(
    rf"(?:会不会|下不下|要不要|还|有没有|能不能)\S{{0,2}}{_WEATHER_EVENT}|{_WEATHER_EVENT}(?:吗|么|不|没有|了没)|"
    r"冷不冷|热不热|风大不大|(?:下|刮)不(?:下|刮)|天气(?:怎么样|如何|咋样|好不好|怎样|预报)|天气预报|"
    r"(?:气温|温度)\S{0,3}(?:多少|几度|多高|多低)|(?:多少|几)度|(?:有没有|发布|发了)\S{0,4}预警|气象"
)


def asked_key(text: str) -> str | None:
    """The hotline whose topic a *short question* is about, when it asks rather than tells a matter.

    Used when the classifier is unsure (「下礼拜还冷不冷，要不要加衣服」: a department at 0.38): the topic
    words and the question form are enough. A complaint, a report or a call for help (「一下雨小区就积水
    怎么办」 says 积水... but also asks) is left to the classifier: see `nlu/client.py`.
    """
    norm = normalize(text).strip()
    if len(norm) > SHORT_QUESTION_CHARS or not _QUESTION.search(norm):
        return None
    key = key_for(norm)
    if key == "hotline_weather" and not _FORECAST_QUESTION.search(norm):
        return None
    return key


def key_for(text: str) -> str | None:
    """The answer key of the one hotline whose topic the text names (None: none or several)."""
    norm = normalize(text)
    found = [key for key, rx in TOPICS.items() if rx.search(norm)]
    return found[0] if len(found) == 1 else None
