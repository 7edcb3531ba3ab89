"""The pleasantry rule (nlu/pleasantries.py): greetings and thanks alone, never a matter."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlu import pleasantries

NLU_DIR = Path(__file__).resolve().parents[2] / "nlu"


@pytest.mark.parametrize("text", ["您好", "哈喽哈喽", "中午好", "早安", "喂？", "妳好，有人在線嗎", "hi there",
                                  "您好，请问是12345热线吗"])
def test_greetings(text):
    assert pleasantries.kind(text) == "greet"


@pytest.mark.parametrize("text", ["谢谢", "感恩", "多谢你们", "3Q", "thank you very much", "好的，辛苦您了",
                                  "你好，谢谢", "谢謝", "知道了"])
def test_thanks_and_closings(text):
    assert pleasantries.kind(text) == "thanks"


@pytest.mark.parametrize("text", ["你好，路灯坏了", "谢谢你们，但是问题还没解决", "救命", "12345", "嗯", "", "   ",
                                  "你好" * 20, "讲个笑话", "好的，我想投诉小区物业"])
def test_anything_beyond_pleasantries_is_left_to_the_classifier(text):
    assert pleasantries.kind(text) is None


def test_no_training_or_dev_message_of_another_intent_is_a_pleasantry():
    wrong = []
    for path in sorted((NLU_DIR / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" not in item:
                continue
            for line in item["examples"].splitlines():
                text = line.strip()[2:]
                found = pleasantries.kind(text)
                if found and found != item["intent"]:
                    wrong.append((item["intent"], text))
    for path in sorted((NLU_DIR / "dev").glob("*.yml")):
        for example in yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]:
            found = pleasantries.kind(example["text"])
            if found and found != example["intent"]:
                wrong.append((example["intent"], example["text"]))
    assert wrong == []
