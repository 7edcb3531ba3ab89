"""A message that holds nothing but a greeting or thanks: the bot answers it without a ticket.

Why a rule beside the classifier: greetings and thanks are a closed class of a few dozen words, but
the classifier sees them as two or three characters among thousands of ticket messages; on the dev
chit-chat set (nlu/dev/dev_chitchat.yml) it sent 「中午好」, 「早安」, 「感恩」 and 「多谢你们」 to departments
and 「在线吗」 to the service hours (65 % recall). A message is a pleasantry only when *every* character
of it belongs to the words below (plus fillers such as 啊, 请问, 12345, 热线); one word of a matter
(「你好，路灯坏了」) and the classifier decides as before.
"""

from __future__ import annotations

import re

from nlu.textnorm import normalize

GREETINGS = (
    "你好", "您好", "妳好", "你们好", "大家好", "哈喽", "哈罗", "哈啰", "哈咯", "嗨", "喂", "hello", "hallo", "hi",
    "hey", "早上好", "上午好", "中午好", "下午好", "晚上好", "早安", "午安", "早", "在吗", "在嘛", "在么", "在不在",
    "在线吗", "在线不", "有人在线吗", "有人", "有人吗", "有人在吗", "有人没", "有人不", "有没有人", "有人在不", "打扰一下", "打扰了",
)
THANKS = (
    "谢谢", "谢了", "谢啦", "谢", "多谢", "感谢", "感恩", "3q", "thx", "thanks", "thank", "thankyou", "thanku",
    "辛苦了", "辛苦", "麻烦了", "麻烦", "费心了", "劳驾",
)
# 「好的」「知道了」 alone close a conversation as thanks do (the held-out labels agree); they never
# make a pleasantry of a message on their own words plus a matter, as every word here must match.
ACKNOWLEDGEMENTS = (
    "好的", "好滴", "好嘞", "好吧", "好", "行", "ok", "okay", "明白了", "明白", "知道了", "知道啦", "知道", "懂了",
    "收到了", "收到", "了解了", "了解", "没事了", "没别的事了", "没别的了", "没问题", "太好了",
)
FILLERS = (
    "啊", "呀", "哈", "呢", "诶", "欸", "哎", "嗯", "哦", "噢", "喔", "嘿", "亲", "请问", "一下", "这里是", "这是",
    "是", "吗", "嘛", "么", "吧", "的", "了", "啦", "您", "你", "你们", "咱们", "大家", "非常", "太", "万分", "十分",
    "真是", "真", "很", "实在", "回复", "帮助", "帮忙", "12345", "热线", "市长热线", "市民热线", "便民热线",
    "政务服务热线", "政务热线", "平顶山", "there", "all", "so", "much", "very", "you", "u", "a", "lot",
)
MAX_CHARS = 30  # the longest pleasantry of the dev set has 11 characters; longer texts say something else

_PUNCTUATION = re.compile(r"[\W_]+")


def _alternation(words: tuple[str, ...]) -> str:
    # Longest first, so that 「你好」 is not read as 「你」+ a leftover 「好」.
    return "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))


_TOKEN = re.compile(_alternation(GREETINGS + THANKS + ACKNOWLEDGEMENTS + FILLERS))
_GREETINGS = frozenset(GREETINGS)
_CLOSINGS = frozenset(THANKS + ACKNOWLEDGEMENTS)


def kind(text: str) -> str | None:
    """``"greet"``, ``"thanks"`` or None (the message says something beyond pleasantries)."""
    compact = _PUNCTUATION.sub("", normalize(text).lower())
    if not compact or len(compact) > MAX_CHARS:
        return None
    words = _TOKEN.findall(compact)
    if "".join(words) != compact:
        return None  # a character outside the pleasantries: a matter, or small talk for the classifier
    # Thanks close a conversation; 「你好，谢谢」 is a closing too.
    if any(word in _CLOSINGS for word in words):
        return "thanks"
    if any(word in _GREETINGS for word in words):
        return "greet"
    return None
