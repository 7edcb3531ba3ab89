"""Training data, held-out sets, answers and tooling: consistency checks that need no Rasa."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from config.directory import load_directory
from nlu import evaluate, training
from nlu.client import ANSWERED_INTENTS, load_answers
from nlu.letters import compose as letters
from nlu.server import rasa_command

DATA = Path(training.DATA_DIR) / "nlu"


def training_examples() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in sorted(DATA.glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in item:
                texts = [
                    re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line.strip()[2:])
                    for line in item["examples"].splitlines()
                    if line.strip().startswith("- ")
                ]
                out.setdefault(item["intent"], []).extend(texts)
    return out


def test_intents_cover_the_directory():
    intents = set(training_examples())
    directory = load_directory()
    for code in directory.department_codes:
        if (DATA / "departments.yml").exists():
            assert f"dept_{code}" in intents
    for kind in ("police", "fire", "medical", "traffic"):
        assert f"emergency_{kind}" in intents
    for hotline in directory.non_integrated_hotlines:
        assert f"hotline_{hotline.code}" in intents
    assert {"greet", "thanks", "out_of_scope"} <= intents


def test_enough_examples_for_my_intents():
    for intent, texts in training_examples().items():
        if intent.startswith(("faq/", "emergency_", "hotline_")) or intent in ("greet", "thanks", "out_of_scope"):
            assert len(set(texts)) >= 12, intent


def test_every_faq_key_and_answered_intent_has_an_answer():
    answers = load_answers()
    keys = [i for i in training_examples() if i.startswith("faq/")] + list(ANSWERED_INTENTS)
    for key in keys:
        assert answers.get(key), key
        assert "{" not in answers[key], key
        assert " " not in answers[key].replace("APP", ""), f"stray space in {key}"


def test_answers_carry_the_seed_numbers():
    answers = load_answers()
    assert "12329" in answers["hotline_housing_fund"]
    assert "12366" in answers["hotline_tax"]
    assert "12121" in answers["hotline_weather"]
    assert "7×24" in answers["faq/service_hours"]
    directory = load_directory()
    for dept in directory.departments:
        if dept.integration == "merged":
            assert dept.hotline in answers["faq/merged_hotlines"], dept.code
        if dept.integration == "parallel":
            assert dept.hotline in answers["faq/parallel_hotlines"], dept.code
    for region in directory.regions:
        target = "faq/county_hotlines" if region.role == "remote_seat" else "faq/merged_hotlines"
        assert region.former_hotline in answers[target], region.code
    for number in ("110", "119", "120", "122"):
        assert number in answers["faq/emergency_numbers"]


@pytest.mark.parametrize("path", [*evaluate.heldout_files(), *sorted(evaluate.DEV_DIR.glob("*.yml"))],
                         ids=lambda p: p.name)
def test_heldout_is_valid_and_never_trained_on(path):
    directory = load_directory()
    trained = training_examples()
    train_texts = {t for texts in trained.values() for t in texts}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["examples"]
    for ex in data["examples"]:
        assert set(ex) == {"text", "intent", "request_type", "region"}, ex
        assert ex["text"] not in train_texts, f"held-out text in the training data: {ex['text']}"
        assert ex["intent"] in trained, f"unknown intent {ex['intent']}"
        assert ex["region"] is None or ex["region"] in directory.region_codes, ex
        assert ex["request_type"] is None or ex["request_type"] in directory.request_type_codes, ex


def test_heldout_other_has_ten_per_intent():
    examples = evaluate.load_heldout([evaluate.HELDOUT_DIR / "heldout_other.yml", evaluate.HELDOUT_DIR / "heldout_faq.yml"])
    counts: dict[str, int] = {}
    for ex in examples:
        counts[ex["intent"]] = counts.get(ex["intent"], 0) + 1
    mine = [i for i in training_examples() if i.startswith(("faq/", "emergency_", "hotline_"))]
    for intent in mine + ["greet", "thanks", "out_of_scope"]:
        assert counts.get(intent, 0) >= 10, intent


def test_data_hash_and_model_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_NLU_MODEL_DIR", str(tmp_path))
    h = training.data_hash()
    assert re.fullmatch(r"[0-9a-f]{12}", h) and training.data_hash() == h
    assert training.model_cache_dir() == tmp_path
    assert training.find_model() is None
    (tmp_path / "nlu-000000000000.tar.gz").write_bytes(b"old")
    assert training.find_model() is None
    model = tmp_path / f"nlu-{h}.tar.gz"
    model.write_bytes(b"x")
    assert training.find_model() == model
    assert training.ensure_model(progress=False) == model  # cached: no training


def test_data_hash_follows_content(tmp_path, monkeypatch):
    # A copy of the project's NLU inputs; changing one example changes the hash.
    import shutil

    root = tmp_path / "nlu"
    shutil.copytree(training.NLU_DIR / "data", root / "data")
    shutil.copytree(training.NLU_DIR / "jieba_dict", root / "jieba_dict")
    shutil.copy(training.CONFIG, root / "config.yml")
    for name, value in {"NLU_DIR": root, "CONFIG": root / "config.yml", "DATA_DIR": root / "data",
                        "DICT_DIR": root / "jieba_dict", "DOMAIN": root / "domain.yml"}.items():
        monkeypatch.setattr(training, name, value)
    before = training.data_hash()
    faq = root / "data" / "nlu" / "faq.yml"
    faq.write_text(faq.read_text(encoding="utf-8") + "    - 12345周日上班吗\n", encoding="utf-8")
    assert training.data_hash() != before


def test_rasa_command(monkeypatch):
    monkeypatch.setenv("HOTLINE_RASA_BIN", "/opt/rasa/bin/rasa")
    cmd = rasa_command("/m/nlu-abc.tar.gz", port=5123)
    assert cmd[:3] == ["/opt/rasa/bin/rasa", "run", "--enable-api"]
    # The gateway's batch parse route (nlu/rasa_batch.py) is Rasa's one input channel.
    credentials = Path(cmd[cmd.index("--credentials") + 1])
    assert yaml.safe_load(credentials.read_text(encoding="utf-8")) == {"nlu.rasa_batch.BatchParse": {}}
    assert cmd[cmd.index("-m") + 1] == "/m/nlu-abc.tar.gz"
    assert cmd[cmd.index("-p") + 1] == "5123" and cmd[cmd.index("-i") + 1] == "127.0.0.1"


def test_forty_examples_per_department_and_ten_held_out():
    examples = training_examples()
    heldout: dict[str, int] = {}
    for ex in evaluate.load_heldout([evaluate.HELDOUT_DIR / "heldout_departments.yml"]):
        heldout[ex["intent"]] = heldout.get(ex["intent"], 0) + 1
    for code in load_directory().department_codes:
        intent = f"dept_{code}"
        assert len(set(examples[intent])) >= 40, intent
        assert heldout.get(intent, 0) >= 10, intent


def _char_grams(text: str, n: int) -> set[str]:
    return {text[i:i + n] for i in range(len(text) - n + 1)}


@pytest.mark.parametrize("path", [evaluate.HELDOUT_DIR / "heldout_letters.yml", letters.DEV_OUT,
                                  evaluate.DEV_DIR / evaluate.DEV_FRESH_FILE], ids=lambda p: p.name)
def test_heldout_letters_share_no_passage_with_training(path):
    # Exact-text checks miss a matter reused inside another letter: no 14 characters in a row of a
    # held-out or dev letter may appear anywhere in the training data.
    trained = set().union(*(_char_grams(t, 14) for texts in training_examples().values() for t in texts))
    for ex in yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]:
        shared = _char_grams(ex["text"], 14) & trained
        assert not shared, (ex["text"], shared)


def test_letters_are_long_and_cover_every_department():
    test = evaluate.load_heldout([evaluate.HELDOUT_DIR / "heldout_letters.yml"])
    assert len(test) >= 200
    assert sum(len(ex["text"]) for ex in test) / len(test) >= 150
    trained = training_examples()
    directory = load_directory()
    for dept in directory.departments:
        letters_of_dept = [t for t in trained[f"dept_{dept.code}"] if len(t) >= 120]
        assert len(letters_of_dept) >= 30, dept.code
        assert set(dept.duties) <= set(trained[f"dept_{dept.code}"]), f"duties of {dept.code} not trained on"


def test_written_letters_train_their_department_and_are_no_evaluation_set():
    # The letters written freehand (nlu/letters/written/) are department examples, unwrapped, at least 30 long
    # letters of each department; none of them is a held-out or dev letter.
    trained = training_examples()
    written = letters.written_letters()
    codes = load_directory().department_codes
    for letter in written:
        assert letter["intent"] in {f"dept_{code}" for code in codes}, letter["text"][:40]
        assert letter["text"] in trained[letter["intent"]], letter["text"][:40]
    for code in codes:
        assert sum(1 for x in written if x["intent"] == f"dept_{code}" and len(x["text"]) >= 120) >= 30, code
    evaluated = {str(ex["text"]) for path in [*evaluate.heldout_files(), *evaluate.DEV_DIR.glob("*.yml")]
                 for ex in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("examples", [])}
    assert not evaluated & {x["text"] for x in written}


def test_generated_letters_are_up_to_date(tmp_path, monkeypatch):
    for name in ("TRAIN_OUT", "HELDOUT_OUT", "DEV_OUT", "DUTIES_OUT"):
        monkeypatch.setattr(letters, name, tmp_path / getattr(letters, name).name)
    letters.write_all()
    for name, real in (("TRAIN_OUT", DATA / "letters.yml"), ("HELDOUT_OUT", evaluate.HELDOUT_DIR / "heldout_letters.yml"),
                       ("DEV_OUT", letters.NLU_DIR / "dev" / "dev_letters.yml"),
                       ("DUTIES_OUT", letters.NLU_DIR / "data" / "duty_phrases.tsv")):
        assert getattr(letters, name).read_text(encoding="utf-8") == real.read_text(encoding="utf-8"), \
            f"{real} is stale: run python -m nlu.letters.compose"


def test_data_hash_follows_the_components_code(tmp_path, monkeypatch):
    # The model cache and Rasa's component cache key on the code of the pipeline's own components
    # and of the nlu modules they import: a changed persistence format must not reuse an old model.
    import shutil

    from nlu import code_fingerprint

    package = tmp_path / "nlu"
    shutil.copytree(training.NLU_DIR, package, ignore=shutil.ignore_patterns("__pycache__", "tests", "dev"))
    monkeypatch.setattr(code_fingerprint, "NLU_PACKAGE", package)
    files = {path.name for path in code_fingerprint.code_files(["faq_selector"])}
    assert files == {"faq_selector.py", "linear_component.py", "text_features.py", "code_fingerprint.py", "rasa_tokenizer.py"}
    assert "request_type.py" in {p.name for p in code_fingerprint.code_files(["request_type_model"])}  # `from nlu import x as y`
    before, component = training.data_hash(), code_fingerprint.code_fingerprint(["faq_selector"])
    shared = package / "text_features.py"
    shared.write_text(shared.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert training.data_hash() != before
    assert code_fingerprint.code_fingerprint(["faq_selector"]) != component
