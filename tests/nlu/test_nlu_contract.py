"""The client's contract on real messages, against a real Rasa server trained on nlu/data."""

from __future__ import annotations

import pytest

from config.directory import load_directory

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

CONTRACT_KEYS = {
    "request_type", "request_type_alternatives", "department", "department_alternatives", "region", "emergency",
    "faq", "handoff", "intent", "model",
}


async def test_contract_shape(nlu):
    result = await nlu.parse("新华区光明路的路灯坏了一个多月了，晚上黑漆漆的，麻烦尽快修一下")
    body = result.to_dict()
    assert set(body) == CONTRACT_KEYS
    assert body["model"] and body["model"].startswith("nlu-")
    assert body["intent"]["name"] and 0.0 <= body["intent"]["confidence"] <= 1.0
    assert len(body["department_alternatives"]) == 3
    codes = load_directory().department_codes
    assert all(a["code"] in codes and 0.0 <= a["confidence"] <= 1.0 for a in body["department_alternatives"])
    confidences = [a["confidence"] for a in body["department_alternatives"]]
    assert confidences == sorted(confidences, reverse=True)
    assert body["region"] == "xinhua"
    assert body["request_type"] in load_directory().request_type_codes
    # The request-type classifier's ranking: its type first, then the runner-ups the console offers.
    typed = body["request_type_alternatives"]
    assert 2 <= len(typed) <= 3 and typed[0]["code"] == body["request_type"]
    assert all(a["code"] in load_directory().request_type_codes and 0.0 <= a["confidence"] <= 1.0 for a in typed)
    assert [a["confidence"] for a in typed] == sorted((a["confidence"] for a in typed), reverse=True)
    assert len({a["code"] for a in typed}) == len(typed)
    assert body["emergency"] is None and body["faq"] is None


# ---------------------------------------------------------------- the bot answers by itself

@pytest.mark.parametrize(
    ("text", "key", "must_contain"),
    [
        ("公积金贷款能贷多少", "hotline_housing_fund", ["12329"]),
        ("住房公积金怎么提取出来", "hotline_housing_fund", ["12329"]),
        ("个人所得税汇算怎么弄", "hotline_tax", ["12366"]),
        ("明天会下雨吗", "hotline_weather", ["12121"]),
        ("12345晚上几点下班？", "faq/service_hours", ["7×24"]),
        ("原来的城管热线12319还能打吗", "faq/merged_hotlines", ["12319", "12345"]),
        ("12315现在还能打吗", "faq/parallel_hotlines", ["12315", "12345"]),
        ("郏县县长热线还能打吗", "faq/county_hotlines", ["5161058", "远端坐席"]),
        ("火警电话是多少", "faq/emergency_numbers", ["119", "110", "120", "122"]),
        ("我反映的问题怎么查进度", "faq/follow_ticket", ["工单编号"]),
        ("市长信箱还能写信吗", "faq/mayor_mailbox", ["市长电子信箱"]),
        ("你好", "greet", ["12345"]),
    ],
)
async def test_faq_answers(nlu, text, key, must_contain):
    result = await nlu.parse(text)
    assert result.faq is not None, result
    assert result.faq["key"] == key
    for fragment in must_contain:
        assert fragment in result.faq["answer"]
    assert result.handoff is False
    assert result.emergency is None


async def test_network_hotline_hours_from_directory(nlu):
    result = await nlu.parse("公众号的人工客服几点上班")
    assert result.faq and result.faq["key"] == "faq/network_hotline_hours"
    shift = load_directory().network_hotline
    assert shift.shift_start in result.faq["answer"] and shift.shift_end in result.faq["answer"]
    assert "{" not in result.faq["answer"]


# ---------------------------------------------------------------- emergencies

@pytest.mark.parametrize(
    ("text", "number", "kind"),
    [
        ("救命！卫东区优越路一栋楼着火了，浓烟很大", "119", "fire"),
        ("厨房一股煤气味，阀门关不上", "119", "fire"),
        ("有人拿着刀在菜市场追着人砍", "110", "police"),
        ("我被抢劫了，抢包的人往湛河区方向跑了", "110", "police"),
        ("我爸突然晕倒了，叫不醒", "120", "medical"),
        ("建设路上两辆车撞了，有人卡在车里", "122", "traffic"),
        ("家裡著火了快來人", "119", "fire"),
    ],
)
async def test_emergency_routes_to_number(nlu, text, number, kind):
    result = await nlu.parse(text)
    assert result.emergency == {"number": number, "kind": kind}
    assert result.faq is None
    assert result.handoff is True  # an urgent record the operators must see


@pytest.mark.parametrize(
    "text",
    [
        "上个月着过火，墙还没修",
        "120急救车收费标准",
        "救护车收费太高了，拉了三公里要四百",
        "交通事故责任认定书多久能出来",
        "如果家里着火了应该怎么办",
    ],
)
async def test_emergency_negatives_stay_out(nlu, text):
    result = await nlu.parse(text)
    assert result.emergency is None, result


# ---------------------------------------------------------------- tickets: region, department

@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("汝州小屯镇的路坏了好几个月没人修", "ruzhou"),
        ("舞钢的农民工工资一直拖着不给", "wugang"),
        ("鲁山那边的学校乱收补课费", "lushan"),
        ("郟县冢头镇的垃圾堆了半个月没人清", "jiaxian"),
        ("郏县城关有家超市卖过期食品", "jiaxian"),
        ("新城区那边的公交车太少了", "shifanqu"),
        ("宝丰县闹店镇停电一天了", "baofeng"),
    ],
)
async def test_region_from_short_forms(nlu, text, region):
    result = await nlu.parse(text)
    assert result.region == region


@pytest.mark.parametrize(
    ("text", "department"),
    [
        ("公司拖欠我三个月工资不给，老板电话也不接", "human_resources"),
        ("孩子上小学划片的学区是怎么规定的", "education"),
        ("超市卖过期的牛奶，我要投诉", "market_supervision"),
        ("我家小区停水两天了，也没有通知", "utilities"),
        ("想给孩子上户口，需要带什么材料", "public_security"),
        ("老人想申请低保，要什么条件", "civil_affairs"),
        ("化工厂晚上偷偷排污水，河水都黑了", "ecology_environment"),
        ("出租车司机绕路还拒载", "transport"),
    ],
)
async def test_department_of_clear_messages(nlu, text, department):
    result = await nlu.parse(text)
    assert result.department == department, result
    assert result.department_alternatives[0]["code"] == department
    assert result.faq is None and result.emergency is None
    assert result.request_type is not None


async def test_model_version_and_health(nlu):
    assert await nlu.healthy()
    version = await nlu.model_version()
    from nlu.training import data_hash

    assert version == f"nlu-{data_hash()}"


# ---------------------------------------------------------------- issue 16: smoke is not fire, every ticket gets a department

@pytest.mark.parametrize(
    "text",
    ["楼下的烧烤摊天天冒烟，油烟呛得窗户都不敢开", "对面工厂的烟囱一到晚上就冒黑烟", "有人在地里焚烧秸秆，烟很大，呛得人难受"],
)
async def test_pollution_is_not_a_fire_and_goes_to_the_environment_department(nlu, text):
    result = await nlu.parse(text)
    assert result.emergency is None, result
    assert result.department == "ecology_environment", result
    assert result.faq is None


async def test_fire_words_still_raise_the_alarm(nlu):
    result = await nlu.parse("烧烤店着火了，火蹿到二楼了")
    assert result.emergency == {"number": "119", "kind": "fire"}


@pytest.mark.parametrize("text", ["嗯嗯", "你们是机器人吗", "救命啊，楼上装修从早吵到晚"])
async def test_always_a_department_and_three_alternatives(nlu, text):
    result = await nlu.parse(text)
    if result.faq is None:
        assert result.department is not None, result
        assert len(result.department_alternatives) == 3
        assert result.department == result.department_alternatives[0]["code"]
    assert result.emergency is None


@pytest.mark.parametrize(
    ("text", "key", "must_contain"),
    [
        ("开发票的问题找哪里", "hotline_tax", ["12366"]),
        ("停电了能打12345反映吗，还是找供电公司", "faq/utilities_hotlines", ["12345", "供电"]),
        ("12345平台一共多少个坐席", "faq/platform_facts", ["30"]),
    ],
)
async def test_new_faq_answers(nlu, text, key, must_contain):
    result = await nlu.parse(text)
    assert result.faq is not None and result.faq["key"] == key, result
    for fragment in must_contain:
        assert fragment in result.faq["answer"]


async def test_request_type_comes_from_the_trained_classifier(nlu, rasa_url):
    """Issue 16: the request type is the model's (RequestTypeClassifier in config.yml), not the rules'."""
    import aiohttp

    text = "楼下的路灯坏了一个多月，晚上黑漆漆的，老人出门不方便"
    async with aiohttp.ClientSession() as http, http.post(f"{rasa_url.split(',')[0]}/model/parse",
                                                          json={"text": text}) as resp:
        raw = await resp.json(content_type=None)
    ranked = raw["request_type"]["ranking"]
    assert {r["name"] for r in ranked} == set(load_directory().request_type_codes)
    assert raw["request_type"]["name"] == ranked[0]["name"]
    result = await nlu.parse(text)
    assert result.request_type == raw["request_type"]["name"]
