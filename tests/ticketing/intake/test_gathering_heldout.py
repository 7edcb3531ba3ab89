"""The gathering held-out set (bench/gathering.py reads it) keeps its shape: enough messages, known codes,
answers only for what the bot may ask."""

from __future__ import annotations

from pathlib import Path

import yaml

from config.directory import load_directory

HELDOUT = Path(__file__).parent / "data" / "gathering_heldout.yml"
NLU_DATA = Path(__file__).resolve().parents[3] / "nlu" / "data"


def test_the_held_out_set_is_well_formed_and_never_trained_on():
    directory = load_directory()
    items = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["examples"]
    assert len(items) >= 60
    training = {line.strip().removeprefix("- ").strip('"') for path in NLU_DATA.rglob("*.yml")
                for line in path.read_text(encoding="utf-8").splitlines()}
    for item in items:
        assert item["channel"] in {"web", "wechat"}
        assert item.get("region") is None or item["region"] in directory.region_codes
        assert set(item.get("answers") or {}) <= {"location", "time", "contact_phone", "department"}
        if department := (item.get("answers") or {}).get("department"):
            assert department in directory.department_codes
        assert item["text"] not in training, item["text"]
