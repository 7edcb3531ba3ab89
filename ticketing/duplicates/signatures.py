"""What of a ticket's text decides whether two tickets are the same matter: its features.

A citizen names the site and the problem in their own words, so the text is normalised first:
the set phrases of the channels (来电人反映, 市长您好, 请尽快处理) say nothing about the matter and
go; common synonyms of one problem (信号灯/交通灯/红绿灯, 没水/断水/停水) become one word; then the
features are the character bigrams of what is left (Chinese has no spaces, and bigrams carry the
site names — 锦绣花园, 建设路 — and the problem alike) plus the runs of digits with their unit
(8号楼, 12路), which tell two buildings or bus lines apart.
"""

from __future__ import annotations

import re
from collections import Counter

# The same problem in different words; longer phrases first, so 交通信号灯 is not half-replaced.
SYNONYMS: tuple[tuple[str, str], ...] = (
    ("交通信号灯", "红绿灯"), ("信号灯", "红绿灯"), ("交通灯", "红绿灯"),
    ("没有自来水", "停水"), ("没水用", "停水"), ("没水", "停水"), ("断水", "停水"), ("不来水", "停水"),
    ("恢复供水", "来水"),
    ("窨井盖", "井盖"),
    ("暖气片", "暖气"), ("供暖", "暖气"), ("供热", "暖气"),
    ("欠薪", "拖欠工资"), ("讨薪", "拖欠工资"),
    ("噪声", "噪音"), ("吵得", "噪音"), ("吵", "噪音"),
    ("摆摊", "占道"), ("占道经营", "占道"),
    ("路面塌陷", "坑"), ("路面下沉", "坑"), ("坑洼", "坑"), ("大坑", "坑"),
    ("甩站", "不进站"), ("过站不停", "不进站"), ("不按站点停靠", "不进站"), ("不按规定进站停靠", "不进站"),
    ("偷排", "排放"), ("排气", "排放"),
    ("十字路口", "路口"), ("交叉口", "路口"),
)

# Words of the channels and of politeness, not of the matter.
FILLER = (
    "来电人反映", "来电人举报", "来电人称", "来电反映", "来电人", "群众反映", "群众", "反映",
    "尊敬的市长", "市长您好", "市长", "您好", "恳请", "希望", "请求", "要求", "请", "尽快", "相关部门",
    "平顶山市", "平顶山", "问题", "一直", "已经", "严重", "影响", "故障", "损坏", "坏了", "维修", "处理",
    "不亮", "修复", "部门",
)

# Pieces of every other site's name (锦绣花园小区, 帝景花园小区): alone they say nothing about which site.
GENERIC_BIGRAMS = frozenset({"小区", "花园", "园小", "社区", "村委", "街道", "路口", "门口", "附近", "周边", "楼下"})

_DIGIT_RUN = re.compile(r"\d+[号路栋楼层元天个次]?")
_NOT_WORD = re.compile(r"[^\w]|_", re.UNICODE)


# The kinds of problem citizens call 12345 about, each by the words that name it (after the synonyms
# above).  Two texts naming disjoint kinds are two matters, however close their sites are.
PROBLEMS: dict[str, tuple[str, ...]] = {
    "traffic_lights": ("红绿灯",),
    "street_lamps": ("路灯",),
    "road_damage": ("坑", "路面破损", "修路"),
    "manhole": ("井盖",),
    "water_supply": ("停水", "来水", "供水", "水压"),
    "power_supply": ("停电", "供电", "断电"),
    "gas_supply": ("停气", "燃气", "天然气"),
    "heating": ("暖气", "不热"),
    "garbage": ("垃圾", "清运", "环卫"),
    "lift": ("电梯",),
    "noise": ("噪音", "扰民", "打桩", "夜间施工", "音响"),
    "fees": ("乱收费", "收费", "补课费"),
    "bus": ("公交", "不进站", "站台"),
    "wages": ("拖欠工资", "农民工工资", "工资"),
    "pollution": ("排放", "废气", "污水", "气味", "异味", "污染"),
    "street_vending": ("占道", "商贩"),
    "parking": ("停车", "违停"),
    "property_management": ("物业",),
    "construction": ("违建", "违章建筑", "私搭乱建"),
    "food_safety": ("食品", "过期", "变质"),
}


def problems(text: str) -> frozenset[str]:
    """The kinds of problem the text names (empty when it names none the table knows)."""
    normalised = normalise(text)
    return frozenset(kind for kind, words in PROBLEMS.items() if any(word in normalised for word in words))


def normalise(text: str) -> str:
    """The text with channel phrases dropped, synonyms unified, punctuation and spaces gone."""
    text = text.lower()
    for phrase, canonical in SYNONYMS:
        text = text.replace(phrase, canonical)
    for phrase in FILLER:
        text = text.replace(phrase, " ")
    return _NOT_WORD.sub(" ", text)


_PROBLEM_WORDS = sorted({word for words in PROBLEMS.values() for word in words}, key=len, reverse=True)


def site_features(text: str) -> Counter[str]:
    """Character bigrams of each run of the normalised text without its problem words (those are
    compared as kinds, by :func:`problems`), and its numbers with their unit: what is left names
    the site and the circumstances."""
    counts: Counter[str] = Counter()
    normalised = normalise(text)
    for word in _PROBLEM_WORDS:
        normalised = normalised.replace(word, " ")
    counts.update("#" + match.group(0) for match in _DIGIT_RUN.finditer(normalised))
    for run in normalised.split():
        run = re.sub(r"\d+", "", run)
        counts.update(bigram for i in range(len(run) - 1) if (bigram := run[i:i + 2]) not in GENERIC_BIGRAMS)
    return counts
