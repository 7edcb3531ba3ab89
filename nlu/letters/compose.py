"""Compose the long, letter-style NLU examples of issue 16 from hand-written matters.

Why a composer: real 12345 letters wrap one matter (the part that decides the department) in a
salutation, who writes and where, since when, what was already tried, often a second topic, a
request and a closing. The matters are hand-written (train_bank.yml, heldout_bank.yml); this
script only wraps them, with two *separate* sets of wrappings (FRAMES_TRAIN for the training data,
FRAMES_HELDOUT for the held-out and dev letters: other salutations, people, places, phrasing), so
the held-out letters share neither matter nor wording with the training letters.

    .venv/bin/python -m nlu.letters.compose        # rewrites the three generated files

Outputs (deterministic, seeded): nlu/data/nlu/letters.yml (training: letters, the bare matters and
each department's statutory duties from config/directory.yaml), nlu/tests/heldout_letters.yml
(test), nlu/dev/dev_letters.yml (dev split for the hand-off thresholds, nlu/thresholds.py),
nlu/data/duty_phrases.tsv (the duties and the matters they list, for the department prior).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:  # the directory's pydantic 2 is the gateway's; Rasa's environment reads the frames too
    from config.directory import Directory

HERE = Path(__file__).resolve().parent
NLU_DIR = HERE.parent
TRAIN_OUT = NLU_DIR / "data" / "nlu" / "letters.yml"
HELDOUT_OUT = NLU_DIR / "tests" / "heldout_letters.yml"
DEV_OUT = NLU_DIR / "dev" / "dev_letters.yml"
# The duties' listed matters, one "department<TAB>phrase" a line: the department prior of the intent
# classifier (nlu/duty_prior.py) reads them; they are not examples of the intent classifier itself.
DUTIES_OUT = NLU_DIR / "data" / "duty_phrases.tsv"
TEST_PER_DEPARTMENT = 12  # the first 12 matters of heldout_bank.yml; the rest is the dev split
LETTERS_PER_TRAIN_MATTER = (3, 4)  # 12 + 8 matters -> 70 letters per department


@dataclass(frozen=True)
class Frames:
    salutations: tuple[str, ...]
    writers: tuple[str, ...]  # {place} {name}
    places: dict[str, tuple[str, ...]]  # region code -> place phrases (region alias + a local name)
    unplaced: tuple[str, ...]  # writers without a region
    since: tuple[str, ...]  # {date}
    tried: tuple[str, ...]
    asides: tuple[str, ...]  # a second, smaller topic
    impacts: tuple[str, ...]  # what a grievance does to the writer's life (complaint, report, help)
    reasons: dict[str, tuple[str, ...]]  # why the writer asks, suggests or thanks (consult, suggestion, praise)
    details: tuple[str, ...]  # {date} {n}: exact time, address, ticket of an earlier call
    requests: dict[str, tuple[str, ...]]  # request type -> closing request
    closings: tuple[str, ...]  # {name} {date} {phone}
    names: tuple[str, ...]
    months: tuple[str, ...]


FRAMES_TRAIN = Frames(
    salutations=("尊敬的领导：", "尊敬的市长您好：", "市长同志：", "各位领导好！", "12345热线的工作人员：", "尊敬的市长信箱管理员：",
                 "领导您好！", "", "您好！"),
    writers=("我是{place}的一名居民{name}。", "我叫{name}，家住{place}。", "本人{name}，是{place}的村民。",
             "我们是{place}的几户住户，由我{name}代笔。", "我是{place}的{name}，今年六十多岁了。",
             "我是在{place}住了三十年的老党员{name}。", "我是一名教师，家在{place}，姓名{name}。", "我是{place}的个体户{name}。",
             "我们这些{place}的老年人委托{name}执笔。"),
    places={
        "xinhua": ("新华区光明路幸福里小区", "新华区西市场街道"), "weidong": ("卫东区建设路东段", "卫东区东环路和平社区"),
        "zhanhe": ("湛河区南环路", "湛河区曹镇乡"), "shifanqu": ("城乡一体化示范区滍阳镇", "新城区长安大道附近"),
        "gaoxin": ("高新区遵化店镇", "高新区科技路"), "ruzhou": ("汝州市钟楼街道", "汝州市寄料镇"),
        "wugang": ("舞钢市垭口街道", "舞钢市尚店镇"), "baofeng": ("宝丰县城关镇", "宝丰县石桥镇"),
        "jiaxian": ("郏县冢头镇", "郏县城关街道"), "lushan": ("鲁山县张良镇", "鲁山县琴台街道"),
        "yexian": ("叶县昆阳街道", "叶县廉村镇"), "shilong": ("石龙区高庄街道", "石龙区人民路街道"),
    },
    unplaced=("我是一名普通市民{name}。", "我是一名退休职工。", "我是外地来平顶山打工的{name}。"),
    since=("这个问题从{date}开始就有了。", "自{date}以来一直是这样。", "{date}我第一次发现这个问题。", "已经持续到现在快半年了。", ""),
    tried=("我们找过社区和街道，都说会向上反映，可一直没有下文。", "之前打过两次电话反映，答复说正在处理，到现在也没有结果。",
           "我们也找过相关单位，互相推诿，说不归他们管。", "网上也留过言，但是没有人回复。", "村干部让我们自己想办法，镇上也说管不了。",
           "去有关部门的窗口问过，工作人员让我们回去等通知。", "我们在业主群里、村民群里议论了很久，谁也不知道该找谁。", ""),
    impacts=("这件事给我们的生活带来了很大的困扰，家里老人身体不好，孩子又正在上学，全家人天天为这事发愁。",
             "周围的邻居对此意见都很大，大家私下里议论纷纷，觉得政府的政策到了下面就走了样。",
             "为了这件事我已经请了好几天假，来回跑了很多趟，花了不少冤枉钱，身心俱疲。",
             "我们都是普通老百姓，没有别的门路，只能相信政府，相信组织。",
             "说实话，要不是实在没有办法，也不会写信麻烦领导。",
             # Words of family, neighbours and common people appear in letters to every department: in
             # the training letters of all of them, so that they decide nothing.
             "家里上有老下有小，老人常年吃药，孩子还在读书，经不起这样折腾。", "邻居们聚在一起说起这件事，个个都摇头叹气。",
             "我们老百姓过日子不容易，就盼着有人能管一管。", "老伴为这事急得吃不下饭，孩子们也跟着操心。",
             "附近的住户、商户都深受其害，很多人敢怒不敢言。", "这样拖下去，群众对政府的信任都要被磨没了。",
             "我年纪大了，腿脚不方便，来回奔波实在吃不消。", "身边好多人都遇到过同样的事，只是没有人出头。"),
    reasons={
        "consult": ("我在网上查了一些资料，说法不一，各个窗口的答复也不一样，所以想请权威部门解答一下。",
                    "身边的亲戚朋友也有类似的情况，大家都不太清楚政策，想问个明白。",
                    "以前没有办过这类事，怕跑冤枉路，所以先写信问一问。"),
        "suggestion": ("我平时比较关注城市建设，经常和邻居们讨论这些事，大家都有同感。",
                       "去外地出差时看到人家那里做得很好，觉得我们平顶山也可以借鉴。",
                       "这个问题涉及很多人，解决好了是一件利民的好事。"),
        "praise": ("现在大家对办事部门有不少抱怨，但我觉得好的也应该说出来。",
                   "这件事虽然不大，却让我们真切感受到了政府部门的温暖。",
                   "我们全家都很感动，一直想找机会表达谢意。"),
    },
    details=("具体情况是{date}第{n}次发生的，我都记在本子上了。", "我在{date}打过12345，当时的工单号我还留着，尾号是{n}{n}。",
             "相关的照片和票据我都保存着，需要的话可以提供。", "地点就在{n}号楼往东一百米左右，很好找。", ""),
    # A second, smaller topic of another department, in the training letters of every department so
    # that a letter is classified by its main matter.
    asides=("另外，小区门口的路灯也坏了好久。", "顺便说一下，我们这里的公交车班次也太少了。", "还有一个小问题，附近的垃圾桶经常满了没人清。",
            "另外家里老人的养老金认证也很麻烦，希望能简化。", "另外，孩子学校放学时门口的车太多，很不安全。",
            "顺便反映一下，社区医院看病排队的时间太长。", "还有，我们这里夏天经常停电，希望电力部门检修一下线路。",
            "另外，楼下的饭店晚上吵得厉害。", "顺便提一句，附近有人在路边摆摊占道。", "另外，村里的低保评定也请上级查一查。",
            "还有一件事，物业费收了服务却跟不上。", "另外小区附近的网吧老有学生进出。", "", "", ""),
    requests={
        "complaint": ("请有关部门认真调查处理，给我们一个说法。", "希望领导重视，督促相关单位尽快解决。", "强烈要求相关部门依法处理。"),
        "report": ("请有关部门依法查处。", "希望尽快派人查处，以免造成更大的危害。", "请相关部门严查，我愿意配合调查。"),
        "consult": ("请帮忙解答，谢谢。", "望相关部门给予答复。", "麻烦告知具体的办理流程。"),
        "help": ("恳请领导帮帮我们。", "希望政府能伸出援手，帮助我们解决困难。", "请求有关部门帮忙协调解决。"),
        "suggestion": ("以上建议，供领导参考。", "希望能采纳这个建议。", "这是我们的一点建议，望考虑。"),
        "praise": ("特此写信表示感谢。", "希望对他们提出表扬。", "在此向他们表示衷心的感谢！"),
    },
    closings=("此致\n敬礼！\n{name}\n{date}", "盼复！ 联系电话：{phone}", "谢谢！", "{name} 敬上", "", "此致 敬礼"),
    names=("王建国", "李秀兰", "张伟", "刘桂芳", "陈明", "杨红霞", "赵志强", "黄丽", "周海涛", "吴春梅"),
    months=("2025年3月", "2025年6月", "今年春节前后", "去年冬天", "2025年9月", "上个月中旬", "今年五一以后"),
)

FRAMES_HELDOUT = Frames(
    salutations=("市长您好：", "尊敬的平顶山市委市政府领导：", "热线办的同志们：", "致市长信箱：", "尊敬的各位领导，你们好。", "",
                 "敬爱的市领导："),
    writers=("写信的是{place}的{name}。", "我叫{name}，住在{place}附近。", "作为一名在{place}生活了二十多年的老住户，我想反映一件事。",
             "我是一名退休教师，住{place}。", "我们是{place}一带的群众，委托{name}写这封信。"),
    places={
        "xinhua": ("新华区矿工路", "新华区湛北路附近的老家属院"), "weidong": ("卫东区五一路", "卫东区东高皇街道"),
        "zhanhe": ("湛河区开源路", "湛河区北渡街道"), "shifanqu": ("示范区白龟湖北岸", "城乡一体化示范区应河路"),
        "gaoxin": ("高新区皇台街道", "高新区火炬路"), "ruzhou": ("汝州市煤山街道", "汝州市小屯镇"),
        "wugang": ("舞钢市院岭街道", "舞钢市杨庄乡"), "baofeng": ("宝丰县周庄镇", "宝丰县李庄乡"),
        "jiaxian": ("郏县薛店镇", "郏县安良镇"), "lushan": ("鲁山县下汤镇", "鲁山县瓦屋镇"),
        "yexian": ("叶县任店镇", "叶县龙泉乡"), "shilong": ("石龙区龙兴街道", "石龙区龙河街道"),
    },
    unplaced=("我是一个在这里做小生意的外地人。", "本人是一名上班族。", "写这封信之前我犹豫了很久。"),
    since=("事情要从{date}说起。", "{date}到现在，问题一直没有解决。", "时间大概是{date}。", ""),
    tried=("村委会和乡里我们都去过，答复是再等等。", "相关单位的电话打了无数遍，要么没人接，要么说不清楚。", "在网上也发过帖子，没有任何回应。",
           "我不知道该找哪个部门，只好给您写信。", ""),
    impacts=("因为这件事，我晚上常常睡不着觉，血压也高了，家里人都劝我别管了，可我咽不下这口气。",
             "左邻右舍都是敢怒不敢言，怕得罪人，大家推举我来写这封信。",
             "我们一家老小的日子都被打乱了，这样下去真不知道怎么办才好。",
             "我相信这不是个别现象，类似的情况在别的地方可能也有。",
             "这事说大不大，说小也不小，关系到很多人的切身利益。"),
    reasons={
        "consult": ("问了身边好几个人，每个人说的都不一样，心里没底。", "打听了一圈也没问明白，只好请教政府部门。",
                    "政策文件看了几遍，有些条款还是看不懂。"),
        "suggestion": ("这是我和几位老同事聊天时想到的，觉得有必要向领导反映。", "我留意这个问题很长时间了，也算是一点观察心得。",
                       "相信这样做能让更多的群众受益。"),
        "praise": ("好人好事应该让更多的人知道。", "在这个过程中，我们切身感受到了为民服务的温度。",
                   "一件小事，却让人心里暖暖的。"),
    },
    details=("第一次是在{date}，之后又陆续发生了{n}次。", "有关的聊天记录、收据我都截图保存了，随时可以提供。",
             "大致位置在{n}号院的北门旁边。", "{date}我曾经打过热线，后来就没了消息。", ""),
    asides=("再多说一句，我们这里的路也该修了。", "此外，附近的学校门口早晚都很堵。", "顺带提一下，前几天停电也没有提前通知。",
            "还有，社区办事的工作人员态度也不太好。", "", "", ""),
    requests={
        "complaint": ("恳请领导过问此事，还我们一个公道。", "请尽快调查，别让老百姓寒心。", "希望有关部门不要再推诿。"),
        "report": ("希望执法部门尽快查处，还我们一片安宁。", "请依法严肃处理，我可以提供照片。", "请尽快核实查处。"),
        "consult": ("希望能得到明确的答复。", "盼望早日收到回复。", "烦请告知，不胜感激。"),
        "help": ("实在没办法了，求领导给想想办法。", "请政府帮帮我们这些困难群众。", "希望相关部门能帮我们一把。"),
        "suggestion": ("一点拙见，供参考。", "希望相关部门研究采纳。", "建议有关部门认真考虑。"),
        "praise": ("特写此信，向他们致敬。", "希望单位能通报表扬。", "真心感谢，为他们点赞！"),
    },
    closings=("此致敬礼！ {name}，{date}", "期待您的回复。 电话：{phone}", "谢谢领导！", "一位普通市民", "", "{name}"),
    names=("孙玉梅", "马国庆", "朱晓峰", "胡秀英", "郭建军", "何丽娟", "高振华", "林小燕", "罗长顺", "郑淑珍"),
    months=("2026年1月", "2026年4月", "去年秋收以后", "今年开春", "2026年7月", "前年年底", "八月份"),
)


def read_bank(path: Path) -> dict[str, list[tuple[str, str]]]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {dept: [tuple(line.split("|", 1)) for line in lines] for dept, lines in raw.items()}  # type: ignore[misc]


def compose(matter: str, request_type: str, frames: Frames, rng: random.Random, with_place: bool) -> tuple[str, str | None]:
    """One letter around a matter; returns (text, region code or None)."""
    name = rng.choice(frames.names)
    date = rng.choice(frames.months)
    region = None
    if with_place:
        region = rng.choice(sorted(frames.places))
        place = rng.choice(frames.places[region])
        writer = rng.choice(frames.writers).format(place=place, name=name)
    else:
        writer = rng.choice(frames.unplaced).format(name=name)
    phone = f"1{rng.choice('3578')}{rng.randint(0, 9)}****{rng.randint(1000, 9999)}"
    parts = [
        rng.choice(frames.salutations),
        writer,
        matter.rstrip("。") + "。",
        *_middle(request_type, frames, rng, date),
        rng.choice(frames.asides),
        rng.choice(frames.requests[request_type]),
        rng.choice(frames.closings).format(name=name, date=date, phone=phone),
    ]
    # Letters come in one line from the web form and the mailbox (the gateway flattens line breaks).
    return "".join(p for p in parts if p).replace("\n", " "), region


def _middle(request_type: str, frames: Frames, rng: random.Random, date: str) -> list[str]:
    """What follows the matter: for a grievance since when, details, what it does and what was tried;
    for a question, a suggestion or thanks, why the writer writes."""
    if request_type in frames.reasons:
        return rng.sample(frames.reasons[request_type], 2)
    return [
        rng.choice(frames.since).format(date=date),
        rng.choice(frames.details).format(date=date, n=rng.randint(2, 9)),
        *rng.sample(frames.impacts, 2),
        rng.choice(frames.tried),
    ]


# The training banks, each composed with its own seed (a bank added later leaves the letters of the
# earlier ones as they were).
TRAIN_BANKS = (("train_bank.yml", 16), ("train_bank_more.yml", 1604), ("train_bank_third.yml", 2609),
               ("train_bank_fourth.yml", 3612))


# Whole letters written freehand, as citizens write them (session 23: three former dev sets and six new ones,
# every author a helper who read no training, dev or held-out file). The banks' letters all share the compose
# frames; trained beside them, these lifted the department top-1 of the other freehand letters (each former dev set
# scored by a model trained without it: +1.5 to +6.9 points with the first three new sets, nlu/README.md).
WRITTEN_DIR = HERE / "written"


def read_letters(path: Path) -> list[dict]:
    """The letters of one file ({"text", "intent", "request_type", "region"}), each text on one line with single
    spaces, as it goes into the training data."""
    return [{**item, "text": " ".join(str(item["text"]).split())}
            for item in yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]]


def written_letters() -> list[dict]:
    """Every written letter, file by file in name order."""
    return [letter for path in sorted(WRITTEN_DIR.glob("*.yml")) for letter in read_letters(path)]


def training_letters(directory: Directory) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {dept.code: [] for dept in directory.departments}
    for name, seed in TRAIN_BANKS:
        rng = random.Random(seed)
        bank = read_bank(HERE / name)
        for dept in directory.departments:
            for i, (rtype, matter) in enumerate(bank.get(dept.code, [])):
                out[dept.code].append(matter)  # the matter alone: a short WeChat message
                copies = LETTERS_PER_TRAIN_MATTER[i % 2 == 0]
                for _ in range(copies):
                    out[dept.code].append(compose(matter, rtype, FRAMES_TRAIN, rng, with_place=rng.random() < 0.8)[0])
    for letter in written_letters():
        out[letter["intent"].removeprefix("dept_")].append(letter["text"])
    for dept in directory.departments:
        out[dept.code] += list(dept.duties)  # statutory duties (三定) as examples of the department
    return out


# Words of a duty that name no matter of their own (「拟订…政策并组织实施」, 「…的监督管理」).
_GENERIC_DUTY_WORDS = {"研究", "政策", "文化", "综合执法", "组织实施", "监督管理", "管理"}


def duty_phrases(duty: str) -> list[str]:
    """The matters one statutory duty lists (「负责市容环境卫生、生活垃圾清运和公共厕所的管理」 -> 市容环境卫生,
    生活垃圾清运, 公共厕所的管理): a letter names one of them, not the list. As examples of the intent
    classifier they pulled FAQ questions to departments (session 10, withdrawn in bbcf0e1); they now only
    rank the departments among themselves (nlu/duty_prior.py)."""
    body = re.sub(r"^(负责|受理|组织|统筹|拟订|推进|查处)", "", duty)
    parts = [p for p in re.split(r"[，、；]|和(?=[^和]{2,})", body) if len(p) >= 2]
    return [p for p in parts if p != duty and p not in _GENERIC_DUTY_WORDS]


# Its last line says "session 14" by mistake (it was session 13); changing the generated text would
# change the data hash and the model id, so it waits for the next change of the duty phrases.
DUTIES_HEADER = """\
# GENERATED by `python -m nlu.letters.compose` from the statutory duties (三定) of config/directory.yaml.
# "department<TAB>phrase": each duty whole and the matters it lists. Read by the intent classifier's
# department prior (nlu/duty_prior.py), which ranks departments among themselves only; Rasa ignores .tsv.
# After each department's statutory phrases: its duties in citizens' words (nlu/letters/duty_plain.yml, session 14).
"""


# The duties in citizens' words (session 13): the statutory phrases alone share few words with letters.
DUTY_PLAIN = HERE / "duty_plain.yml"


def duty_lines(directory: Directory) -> list[str]:
    plain = yaml.safe_load(DUTY_PLAIN.read_text(encoding="utf-8")) if DUTY_PLAIN.exists() else {}
    return [f"{dept.code}\t{p}" for dept in directory.departments
            for p in [q for duty in dept.duties for q in [duty, *duty_phrases(duty)]] + list(plain.get(dept.code, []))]


FRAME_INTENT = "letter_frame"


def frame_examples(frames: Frames = FRAMES_TRAIN, seed: int = 3) -> list[str]:
    """The wrapping sentences of the training letters, as examples of the intent `letter_frame`:
    salutations, writers and places, dates, what was tried, impacts, details, asides (a second topic
    mentioned in passing), reasons, requests and closings. The classifier (nlu/rasa_intent.py) learns
    from them which sentences of a letter say nothing about its department, and never predicts it."""
    rng = random.Random(seed)
    out: set[str] = set()

    def fill(text: str) -> str:
        return text.format(date=rng.choice(frames.months), n=rng.randint(2, 9), name=rng.choice(frames.names),
                           phone=f"1{rng.choice('3578')}{rng.randint(0, 9)}****{rng.randint(1000, 9999)}")

    for group in (frames.salutations, frames.since, frames.tried, frames.impacts, frames.details, frames.asides,
                  frames.closings, frames.unplaced, *frames.reasons.values(), *frames.requests.values()):
        out.update(fill(text) for text in group if text)
    for writer in frames.writers:
        for places in frames.places.values():
            out.update(writer.format(place=place, name=rng.choice(frames.names)) for place in places)
    # Too short to be told from a greeting or thanks of the chit-chat intents.
    return sorted(t.replace("\n", " ") for t in out if len(t.strip("！!。：: ")) > 4)


def heldout_letters(directory: Directory, seed: int = 1216) -> tuple[list[dict], list[dict]]:
    """(test, dev) examples in the held-out format."""
    rng = random.Random(seed)
    bank = read_bank(HERE / "heldout_bank.yml")
    test: list[dict] = []
    dev: list[dict] = []
    for dept in directory.departments:
        for i, (rtype, matter) in enumerate(bank[dept.code]):
            target = test if i < TEST_PER_DEPARTMENT else dev
            for _ in range(1 if target is test else 2):
                text, region = compose(matter, rtype, FRAMES_HELDOUT, rng, with_place=rng.random() < 0.8)
                target.append({"text": text, "intent": f"dept_{dept.code}", "request_type": rtype, "region": region})
    return test, dev


TRAIN_HEADER = """\
# GENERATED by `python -m nlu.letters.compose` from nlu/letters/train_bank*.yml and the statutory duties
# of config/directory.yaml. Do not edit by hand: edit the bank, then run the script.
# Letters written like real 12345 letters (salutation, writer, place, dates, earlier attempts, a second
# topic, request, closing) around hand-written matters; the bare matters; each department's duties; and
# the wrapping sentences alone as `letter_frame` (what in a letter names no department).
"""

HELDOUT_HEADER = """\
# Held-out letters (issue 16). GENERATED by `python -m nlu.letters.compose`; NEVER copy into nlu/data/.
# How it was made: {how}
# The matters were hand-written by helper H5 (2026-12-02) after and apart from the training matters
# (other cases, other words); each is wrapped once in a letter by nlu/letters/compose.py with the
# FRAMES_HELDOUT wrappings (salutations, writers, places, dates, requests, closings that the training
# letters never use). Labels: the department a dispatcher would choose for the matter, its request
# type, and the region the letter names (null when it names none).
"""


def _yaml_examples(examples: list[dict]) -> str:
    return yaml.safe_dump({"examples": examples}, allow_unicode=True, sort_keys=False, width=1000)


def write_all(directory: Directory | None = None) -> None:
    from config.directory import load_directory

    directory = directory or load_directory()
    letters = training_letters(directory)
    lines = [TRAIN_HEADER, 'version: "3.1"', "nlu:"]
    for code, texts in letters.items():
        lines.append(f"- intent: dept_{code}")
        lines.append("  examples: |")
        lines += [f"    - {t}" for t in texts]
    lines += [f"- intent: {FRAME_INTENT}", "  examples: |"]
    lines += [f"    - {t}" for t in frame_examples()]
    TRAIN_OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    DUTIES_OUT.write_text(DUTIES_HEADER + "\n".join(duty_lines(directory)) + "\n", encoding="utf-8")
    test, dev = heldout_letters(directory)
    HELDOUT_OUT.write_text(HELDOUT_HEADER.format(how=f"{len(test)} letters, 12 matters per department.")
                           + _yaml_examples(test), encoding="utf-8")
    DEV_OUT.parent.mkdir(parents=True, exist_ok=True)
    DEV_OUT.write_text(HELDOUT_HEADER.format(how=f"dev split: {len(dev)} letters, 4 other matters per department,"
                                             " two letters each; used to set nlu/thresholds.py, never reported.")
                       + _yaml_examples(dev), encoding="utf-8")


if __name__ == "__main__":
    write_all()
