"""Request type (诉求类型) of a ticketable message: a trained classifier, with these rules as its features
and as the fallback.

The classifier (nlu/request_type_model.py, a component of the Rasa pipeline) is trained on labelled
messages (data/request_types.tsv, and the training letters labelled by their matter) with character
n-grams plus the explicit words and cues below as features; its answer comes with Rasa's parse
(`request_type` in the raw result) and wins. The rules alone decide when a model has no such
component (an older model): measured on the held-out sets, rules 79 % and the classifier's figure
is in nlu/README.md. Why the rules were not enough: tuned on the dev letters (95.6 %), they reached
78 % on short messages, where citizens seldom name the type.

Each type has explicit words (the citizen names the type: weight 3) and indirect cues (weight 1).
The highest score wins; ties go by `_TIE_ORDER`. With no signal at all: a question is a consultation,
anything else a complaint (the most common type of 12345 tickets).
"""

from __future__ import annotations

import re

from nlu.textnorm import normalize

TYPES = ("consult", "complaint", "report", "help", "suggestion", "praise")

_EXPLICIT: dict[str, tuple[str, ...]] = {
    "consult": (r"咨询", r"请问", r"问一下", r"问下", r"想问", r"打听", r"想了解", r"了解一下"),
    "complaint": (r"投诉", r"控告", r"反映.{0,4}问题.{0,10}(没|未|不).{0,4}(解决|处理)"),
    "report": (r"举报", r"检举", r"揭发"),
    "help": (r"求助", r"求求", r"帮帮", r"救助", r"求帮忙", r"请求帮助", r"恳请.{0,8}帮"),
    "suggestion": (r"建议", r"提议", r"提个意见", r"提点意见", r"呼吁", r"献策"),
    "praise": (r"表扬", r"点赞", r"赞扬", r"称赞", r"感谢信", r"锦旗", r"致谢", r"好评", r"嘉奖"),
}

_CUES: dict[str, tuple[str, ...]] = {
    "consult": (
        r"怎么办理", r"如何办理", r"怎么申请", r"如何申请", r"怎么办", r"怎么弄", r"怎样", r"如何", r"需要(什么|哪些|带)",
        r"(什么|哪些)材料", r"在哪", r"哪里(可以|能)", r"什么时候", r"几点", r"多久", r"多长时间", r"流程", r"手续", r"条件",
        r"政策", r"是否", r"能不能", r"可不可以", r"可以吗", r"吗[?？]?$", r"[?？]", r"有没有", r"多少", r"哪个部门", r"谁管",
    ),
    "complaint": (
        r"扰民", r"噪音", r"噪声", r"太吵", r"吵得", r"态度(差|恶劣|不好|蛮横)", r"不作为", r"乱作为", r"推诿", r"踢皮球",
        r"拖延", r"没人管", r"无人管", r"不管", r"乱收费", r"多收", r"强制", r"刁难", r"恶臭", r"臭味", r"污染", r"占道",
        r"乱停", r"乱摆", r"拖欠", r"欠薪", r"不给", r"不退", r"虚假", r"欺骗", r"严重影响", r"影响(休息|生活|出行|睡觉)",
        r"一直(没|不|未)", r"至今(没|未)", r"迟迟", r"多次反映", r"反复反映", r"没有解决", r"没解决", r"敷衍", r"不满",
        r"不合理", r"坑人", r"霸王", r"太差", r"受不了", r"扬尘", r"油烟", r"违停", r"黑车", r"拒绝", r"不让", r"不处理",
        # a service or a business treating the citizen badly
        r"推脱", r"拖着", r"不认账", r"打了水漂", r"不给(退|赔|办|修|换|开)", r"没人(来)?(修|管|处理|回复|接)", r"偏袒",
        r"走过场", r"不在岗", r"重复收费", r"出错", r"加钱", r"加收", r"多扣", r"不达标", r"臭得", r"一直(拖|推)", r"还没(有)?(交|退|修|到)",
        r"(没有|未|不)(任何)?通知", r"太(贵|高|慢|少|短|乱|脏)", r"被取消", r"不公", r"占线", r"打不通",
    ),
    "report": (
        r"偷排", r"偷倒", r"乱倒", r"违法", r"违规", r"非法", r"无证", r"黑作坊", r"传销", r"赌博", r"卖淫", r"吸毒",
        r"假冒", r"假货", r"造假", r"骗取", r"套取", r"冒领", r"私挖", r"盗采", r"违建", r"违章建", r"私搭乱建", r"偷税",
        r"漏税", r"走私", r"贪污", r"受贿", r"吃空饷", r"过期食品", r"地沟油", r"私自", r"偷偷",
        # someone else doing something unlawful: the citizen reports rather than complains
        r"有人(在|把|偷|私|冒|开|用|往|经常|夜里|晚上|半夜|以|打着|冒充)", r"没有.{0,8}(许可|手续|资质|证照|执照|认证|营运证|备案)",
        r"无(证|照|资质)", r"私设", r"私宰", r"冒充", r"冒领", r"诽谤", r"管制刀具", r"赌(博|钱)", r"童工", r"注水",
        r"偷(排|倒|采|挖|拉|卖)", r"暗管", r"查处", r"违禁", r"以.{0,6}名义", r"打着.{0,8}旗号", r"承重墙", r"设局",
        r"骗", r"假的|假冒|造假|假货", r"三无", r"过期", r"黑(车|作坊|诊所|中介)", r"(没有|无)(执业|行医)?资格", r"超载", r"保护费",
        r"强(行|拉)", r"不公开", r"隐患", r"明火", r"安全措施", r"秤有问题|缺斤|短斤",
    ),
    "help": (
        r"帮忙", r"帮我", r"帮助", r"困难", r"无力", r"没钱", r"低保", r"停水", r"停电", r"没水", r"没电", r"不供暖",
        r"暖气不热", r"漏水", r"堵了", r"堵塞", r"坏了", r"找不到", r"丢了", r"急需", r"急用", r"请求", r"恳请",
        r"麻烦.{0,8}(帮|解决|处理|协调)", r"尽快(解决|处理|修)", r"希望.{0,6}(解决|处理|协调)", r"协调", r"救救",
        r"请.{0,6}(派|来)", r"来(修|换|看看)", r"帮.{0,2}(我们|一把)", r"想.{0,2}办法", r"生活.{0,4}困难", r"负担不起",
        r"希望.{0,10}(提供|帮|出面|纳入)", r"请不起", r"想请",
    ),
    "suggestion": (
        r"希望.{0,12}(增加|设置|开通|加强|延长|增设|多设|规划|安装)", r"能否.{0,10}(增加|设置|开通|安装|延长|调整|增设)",
        r"可否", r"是否可以.{0,8}(增加|设置|开通|安装)", r"应该.{0,8}(增加|设置|安装|多建)", r"增设", r"多设", r"多建",
        r"意见", r"改进", r"完善", r"优化",
    ),
    "praise": (
        r"(非常|特别|衷心|真心|十分)感谢", r"感谢.{0,15}(工作人员|同志|师傅|民警|警官|医生|护士|老师|部门|热线|局|中心)",
        r"表示感谢", r"效率(很|真|非常)?高", r"服务(很|真|非常)?好", r"态度(很|真|非常)好", r"热情", r"认真负责", r"尽职尽责",
        r"为民办实事", r"暖心", r"给.{0,6}(赞|点赞)", r"(特别|非常|很)(耐心|负责|热情|周到)", r"体验(非常|很)?好",
    ),
}

# Ties: the more specific, more serious type first.
# Praise before complaint: a thank-you letter tells the problem it had before it was solved.
_TIE_ORDER = ("report", "praise", "complaint", "suggestion", "help", "consult")

_EXPLICIT_RE = {t: re.compile("|".join(w)) for t, w in _EXPLICIT.items()}
_CUE_RE = {t: re.compile("|".join(w)) for t, w in _CUES.items()}
_UNKNOWING = re.compile(r"不(知道|清楚|晓得)[^，。！？,.!?]*")
_QUESTION = re.compile(r"[?？]|吗$|吗[。!！]?$|呢$")


def scores(text: str) -> dict[str, int]:
    norm = normalize(text)
    out = {}
    # 「不知道该找哪个部门」 in a letter is the writer's helplessness, not a question to the hotline.
    unasked = _UNKNOWING.sub("", norm)
    for t in TYPES:
        s = 3 * len(_EXPLICIT_RE[t].findall(norm)) + len(_CUE_RE[t].findall(unasked if t == "consult" else norm))
        # 「不满意」/「不作为」 etc. must not read as praise; 「态度差」 is covered by complaint.
        out[t] = s
    # A polite 「谢谢」/「感谢」 closing a complaint is not praise: praise needs more than the closing.
    return out


# From this length on a message is a letter: the cues (written for the dev letters) become features of
# the classifier; on short messages they cost accuracy (cross-validated: 85.1 % with them on letters only,
# 83.9 % with them everywhere), on letters they carry the request sentence.
LONG_CHARS = 60


# Praise and suggestions said without 表扬/建议 (「县里新修的公路又平又宽，老百姓都说好」, 「医院应该给老年人留几个
# 人工窗口」): the character n-grams of ~140 such training messages did not carry them (dev request types: 16.7 %
# of praise, 68 % of suggestions right), the turns of phrase below do.
_IMPLIED = {
    "suggestion": re.compile(
        r"能不能.{0,12}(加|增|设|开|改|延|建|放|多|画|装|推出|划)|(应该|应当|最好|可以|该)(给|多|加|增|设|建|开|改|延|装|推出|划|规定|换)|"
        r"要是能.{0,15}就好了|希望.{0,15}(能|可以)|"
        # a proposal closed by a colloquial 'how about it' (「……周末也开开中不中」)
        r"(中不中|行不行|不行吗|咋样|多好|多方便|就中了?)[？?。！!]*$|"
        r"能不能.{0,12}(轮|放宽|合成|提前|集中|统一|取消|降|减|免|延|周末|开放|搞|立|换成)"
    ),
    "praise": re.compile(
        r"(真|太|很|特别|非常|又)(好|棒|方便|细心|耐心|负责|感动|不容易|暖)|辛苦(了|你们|他们)|救了.{0,4}命|"
        r"(找回|追回|要回|讨回|送回)了|点个?赞|竖个?大拇指|好人|都说好|都夸|比以前.{0,4}(快|好|方便)|办得好|"
        # praise in everyday words (「……效率挺高」「真给力」「干得好」)
        r"给力|不赖|干得(好|漂亮|不错)|效率(挺|真|很|太)?高|(挺|真|很)(不错|及时)|舒坦|舒心|没想到.{0,6}(这么|那么)(快|好)"
    ),
}


def features(text: str) -> list[float]:
    """The rules as classifier features: explicit words per type (capped), cues per type (letters only),
    then the implied praise and suggestion (short messages only: on letters, where the cues already speak,
    they cost 1.5 points of the dev letters; scripts and figures in the session-9 note of issue 16)."""
    norm = normalize(text)
    explicit = [float(min(len(_EXPLICIT_RE[t].findall(norm)), 3)) for t in TYPES]
    if len(norm) < LONG_CHARS:
        implied = [float(min(len(rx.findall(norm)), 2)) for rx in _IMPLIED.values()]
        # Of the letters' cues, the complaint's alone helps short messages too (5-fold CV 83.6 -> 84.8 %,
        # dev short messages 86.7 -> 90.0 %; the other types' cues cost 0.5-1.8 points of CV).
        grievance = min(len(_CUE_RE["complaint"].findall(norm)), 6) / 3
        return explicit + [0.0] * len(TYPES) + implied + [grievance]
    return explicit + [min(len(_CUE_RE[t].findall(norm)), 6) / 3 for t in TYPES] + [0.0] * (len(_IMPLIED) + 1)


def classify(text: str, model: dict | None = None) -> str:
    """The request type: the classifier's (`model`: Rasa's `request_type` output) when it gave a
    known type, otherwise the rules'."""
    if isinstance(model, dict) and model.get("name") in TYPES:
        return str(model["name"])
    s = scores(text)
    best = max(s.values())
    if best == 0:
        return "consult" if _QUESTION.search(normalize(text).strip()) else "complaint"
    return next(t for t in _TIE_ORDER if s[t] == best)
