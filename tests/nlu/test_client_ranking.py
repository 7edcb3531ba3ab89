"""How the client reads Rasa's ranking (nlu/client.py), on answers shaped as Rasa gives them."""

from __future__ import annotations

from nlu import emergency
from nlu.client import NluClient

PRAISE_LETTER = ("尊敬的领导：我想表扬市场监管局的工作人员。上个月我在超市买到过期食品，打电话投诉后，"
                 "工作人员第二天就到现场核查，督促超市退款赔偿，还耐心地给我讲了消费者维权的办法。"
                 "他们认真负责、热情周到，真心感谢他们！谢谢！")


def _rasa_answer(*ranking: tuple[str, float]) -> dict:
    items = [{"name": name, "confidence": conf} for name, conf in ranking]
    return {"intent": items[0], "intent_ranking": items, "entities": []}


def test_a_long_letter_of_thanks_is_a_ticket_not_chit_chat():
    client = NluClient(None)
    raw = _rasa_answer(("thanks", 0.76), ("dept_market_supervision", 0.15), ("dept_commerce", 0.05),
                       ("dept_health", 0.04))
    result = client._interpret(PRAISE_LETTER, raw, emergency.assess(PRAISE_LETTER), None)
    assert result.faq is None and result.department == "market_supervision"
    assert [a["code"] for a in result.department_alternatives] == ["market_supervision", "commerce", "health"]
    assert result.intent["name"] == "dept_market_supervision" and result.handoff


def test_a_short_thanks_is_still_answered_by_the_bot():
    client = NluClient(None)
    raw = _rasa_answer(("thanks", 0.9), ("dept_market_supervision", 0.05), ("dept_commerce", 0.03),
                       ("dept_health", 0.02))
    result = client._interpret("谢谢你们的帮助", raw, emergency.assess("谢谢你们的帮助"), None)
    assert result.faq and result.faq["key"] == "thanks"


def test_a_greeting_the_classifier_sends_to_a_department_is_answered_by_the_bot():
    # 「中午好」 of the dev chit-chat set: the classifier gave it to urban management at 0.20.
    client = NluClient(None)
    raw = _rasa_answer(("dept_urban_management", 0.20), ("greet", 0.18), ("dept_commerce", 0.1))
    result = client._interpret("中午好", raw, emergency.assess("中午好"), None)
    assert result.faq and result.faq["key"] == "greet" and not result.handoff
    assert result.intent == {"name": "greet", "confidence": 1.0}


def test_a_greeting_with_a_matter_stays_a_ticket():
    client = NluClient(None)
    text = "你好，路灯坏了"
    raw = _rasa_answer(("dept_urban_management", 0.8), ("greet", 0.1), ("dept_utilities", 0.05))
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.faq is None and result.department == "urban_management"


def test_an_unsure_short_weather_question_gets_12121():
    client = NluClient(None)
    text = "下礼拜还冷不冷，要不要加衣服"
    raw = _rasa_answer(("dept_market_supervision", 0.38), ("hotline_weather", 0.2), ("dept_commerce", 0.1))
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.faq and result.faq["key"] == "hotline_weather" and not result.handoff


def test_an_unsure_faq_intent_on_a_tax_question_gets_12366():
    client = NluClient(None)
    text = "补缴税款有没有滞纳金"
    raw = _rasa_answer(("faq", 0.24), ("dept_human_resources", 0.2), ("dept_commerce", 0.1))
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.faq and result.faq["key"] == "hotline_tax"


def test_a_short_complaint_with_tax_words_stays_a_ticket():
    client = NluClient(None)
    text = "税务局窗口态度太差了怎么办"
    raw = _rasa_answer(("dept_market_supervision", 0.3), ("hotline_tax", 0.2), ("dept_commerce", 0.1))
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.faq is None and result.department == "market_supervision" and result.handoff


def test_a_confident_department_is_not_overruled_by_topic_words():
    client = NluClient(None)
    text = "公积金贷款买房后物业费一年多少"
    raw = _rasa_answer(("dept_housing_construction", 0.7), ("hotline_housing_fund", 0.2), ("dept_commerce", 0.1))
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.faq is None and result.department == "housing_construction"


def test_an_overruled_emergency_leaves_its_share_to_the_other_intents():
    # The classifier heard an emergency in a question about the numbers; the rules overrule it (a question,
    # 「打……还是」). The FAQ intent is read at its confidence given no emergency: 0.3 / (1 - 0.45) = 0.55,
    # above the FAQ's threshold (0.5), so the bot answers instead of handing the question to an operator.
    client = NluClient(None)
    text = "家里闻到煤气味是打119还是打燃气公司的电话"
    raw = _rasa_answer(("emergency_fire", 0.45), ("faq", 0.3), ("dept_utilities", 0.25))
    raw["response_selector"] = {"faq": {"response": {"intent_response_key": "faq/emergency_numbers",
                                                     "confidence": 0.9}}}
    assessment = emergency.assess(text)
    assert assessment.negated
    result = client._interpret(text, raw, assessment, None)
    assert result.emergency is None
    assert result.faq and result.faq["key"] == "faq/emergency_numbers" and not result.handoff
    assert result.intent == {"name": "faq/emergency_numbers", "confidence": 0.5455}


def test_a_question_below_an_emergency_share_is_read_given_no_emergency():
    # The FAQ intent leads at 0.45 while 0.2 went to an emergency the rules rule out: 0.45 / 0.8 = 0.5625.
    client = NluClient(None)
    text = "火警电话是多少"
    raw = _rasa_answer(("faq", 0.45), ("dept_emergency_management", 0.35), ("emergency_fire", 0.2))
    raw["response_selector"] = {"faq": {"response": {"intent_response_key": "faq/emergency_numbers",
                                                     "confidence": 0.9}}}
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.emergency is None
    assert result.faq and result.faq["key"] == "faq/emergency_numbers" and not result.handoff


def test_an_emergency_ticket_goes_to_its_numbers_department():
    # Dev batch 8's street fight: 110 was right, but the ticket's department was the classifier's best
    # department word (civil affairs); the police's matter is public security's.
    client = NluClient(None)
    text = "村口几个人抡着钢管在打一个小伙，小伙满头是血"
    raw = _rasa_answer(("emergency_police", 0.81), ("dept_civil_affairs", 0.009), ("dept_public_security", 0.007),
                       ("dept_urban_management", 0.005), ("dept_health", 0.004))
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.emergency == {"number": "110", "kind": "police"}
    assert result.department == "public_security"
    assert [a["code"] for a in result.department_alternatives] == ["public_security", "civil_affairs",
                                                                    "urban_management"]


def test_an_emergency_department_missing_from_the_ranking_still_comes_first():
    client = NluClient(None)
    text = "楼道里着火了，烟很大"
    raw = _rasa_answer(("emergency_fire", 0.9), ("dept_housing_construction", 0.05), ("dept_utilities", 0.03),
                       ("dept_urban_management", 0.02))
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.department == "emergency_management"
    assert [a["code"] for a in result.department_alternatives] == ["emergency_management", "housing_construction",
                                                                    "utilities"]



def test_a_ticket_carries_the_request_type_classifiers_ranking():
    client = NluClient(None)
    text = "小区门口的路灯坏了一个月，晚上黑漆漆的，能不能尽快修一下"
    raw = _rasa_answer(("dept_urban_management", 0.8), ("dept_utilities", 0.1), ("dept_housing_construction", 0.05))
    raw["request_type"] = {"name": "complaint", "confidence": 0.48, "ranking": [
        {"name": "complaint", "confidence": 0.48}, {"name": "help", "confidence": 0.31},
        {"name": "made_up", "confidence": 0.12}, {"name": "consult", "confidence": "n/a"},
        {"name": "report", "confidence": float("nan")},
        {"name": "suggestion", "confidence": 0.05}, {"name": "praise", "confidence": 0.01}]}
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.request_type == "complaint"
    # Best first, unknown types and unreadable confidences left out, at most three.
    assert result.request_type_alternatives == [{"code": "complaint", "confidence": 0.48},
                                                {"code": "help", "confidence": 0.31},
                                                {"code": "suggestion", "confidence": 0.05}]
    assert result.to_dict()["request_type_alternatives"] == result.request_type_alternatives


def test_a_request_type_the_rules_decide_has_no_ranking():
    # A model without the request-type component (or one that answered nonsense): the rules decide, unranked.
    client = NluClient(None)
    text = "举报有人在河边偷偷倒建筑垃圾"
    raw = _rasa_answer(("dept_urban_management", 0.8), ("dept_ecology_environment", 0.1), ("dept_utilities", 0.05))
    raw["request_type"] = {"name": "not_a_type", "confidence": 0.9}
    result = client._interpret(text, raw, emergency.assess(text), None)
    assert result.request_type == "report" and result.request_type_alternatives == []


def test_an_answered_question_has_no_request_type():
    client = NluClient(None)
    raw = _rasa_answer(("thanks", 0.9), ("dept_market_supervision", 0.05), ("dept_commerce", 0.03))
    raw["request_type"] = {"name": "praise", "confidence": 0.9, "ranking": [{"name": "praise", "confidence": 0.9}]}
    result = client._interpret("谢谢你们的帮助", raw, emergency.assess("谢谢你们的帮助"), None)
    assert result.faq and result.request_type is None and result.request_type_alternatives == []
