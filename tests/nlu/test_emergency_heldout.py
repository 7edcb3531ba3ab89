"""The emergency safety net on its own held-out set (issue 16): events happening now vs nuisances,
past events, questions, prevention and 救命 as a figure of speech. Rules only, no Rasa."""

from __future__ import annotations

import pytest

from nlu import emergency, evaluate

HELDOUT = evaluate.HELDOUT_DIR / "heldout_emergency.yml"


@pytest.fixture(scope="module")
def examples():
    return evaluate.load_heldout([HELDOUT])


def test_heldout_is_big_enough(examples):
    real = [e for e in examples if e["intent"].startswith("emergency_")]
    assert len(real) >= 60
    assert len(examples) - len(real) >= 80


def test_rules_recall_every_real_emergency(examples):
    missed = [e["text"] for e in examples if e["intent"].startswith("emergency_") and not emergency.assess(e["text"]).kind]
    assert missed == []


def test_rules_raise_at_most_one_false_alarm(examples):
    alarms = [e["text"] for e in examples if not e["intent"].startswith("emergency_") and emergency.assess(e["text"]).kind]
    assert len(alarms) <= 1, alarms


def test_rules_veto_the_classifier_on_every_negative_with_emergency_words(examples):
    # The client lets an emergency_* intent of the classifier through only when the rules do not
    # veto it: every negative that names smoke, fire, 救命… must carry a veto.
    loose = []
    for e in examples:
        a = emergency.assess(e["text"])
        if not e["intent"].startswith("emergency_") and a.hits and not a.negated:
            loose.append(e["text"])
    assert loose == []


@pytest.mark.parametrize(
    ("text", "veto"),
    [
        ("楼下烧烤店天天冒烟，呛得没法开窗", "nuisance"),
        ("化工厂正在冒黑烟，味道刺鼻", "nuisance"),  # a now-cue does not make pollution a fire
        ("有人在地里焚烧秸秆，火光冲天", "nuisance"),
        ("救命啊，楼上的广场舞音响吵到十一点", "figurative"),
        ("着火的时候应该怎么逃生", "negative"),
    ],
)
def test_vetoes(text, veto):
    a = emergency.assess(text)
    assert a.kind is None and a.veto == veto, a


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("烧烤店着火了，火蹿到二楼", "fire"),  # a fire word beats the nuisance context
        ("工厂车间起火了，里面还有工人", "fire"),
        ("救命，有人拿刀追我", "police"),
        ("楼道全是烟，下不去楼", "fire"),
    ],
)
def test_events_in_nuisance_words_still_count(text, kind):
    assert emergency.assess(text).kind == kind


def test_pollution_goes_to_the_environment_department():
    assert emergency.assess("对面工厂烟囱天天冒黑烟").pollution
    assert not emergency.assess("小区里有人天天半夜放鞭炮，烟很大").pollution  # fireworks: the police
    assert not emergency.assess("家里着火了").pollution
