"""The label audit: second labellers' readings against the held-out labels, and the model on each part."""

from pathlib import Path

import pytest

from nlu import evaluate, label_audit
from nlu.label_audit import Prediction, cohen_kappa, summarize, text_key
from nlu.request_type import TYPES


def example(text: str, request_type: str | None = None, department: str | None = None,
            source: str = "heldout_departments.yml") -> dict:
    return {"text": text, "intent": f"dept_{department}" if department else "faq/hours",
            "request_type": request_type, "source": source}


def test_kappa_is_one_for_identical_readings_and_zero_for_chance():
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "b", "a", "b"]) == pytest.approx(1.0)
    # Independent readings with the same marginals: observed 0.5, expected 0.5.
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == pytest.approx(0.0)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # one label only: chance explains it all
    assert cohen_kappa([], []) is None


def test_summary_splits_the_messages_by_how_the_labellers_read_them():
    examples = [example("甲", "complaint"), example("乙", "consult"), example("丙", "report"), example("丁", "help")]
    predictions = [Prediction("complaint", None), Prediction("complaint", None),
                   Prediction("complaint", None), Prediction("help", None)]
    audit = {"request_type": {
        "a": {text_key("甲"): "complaint", text_key("乙"): "complaint", text_key("丙"): "complaint",
              text_key("丁"): "help"},
        "b": {text_key("甲"): "complaint", text_key("乙"): "consult", text_key("丙"): "complaint",
              text_key("丁"): "help"},
    }, "department": {}}
    summary = summarize(examples, predictions, audit, field="request_type")
    assert summary["n"] == 4
    assert summary["labellers"]["a"]["agreement"] == pytest.approx(0.5)
    assert summary["labellers"]["b"]["agreement"] == pytest.approx(0.75)
    assert summary["between_labellers"]["agreement"] == pytest.approx(0.75)
    # 甲 and 丁 read alike by all: both right.
    assert summary["unanimous"] == {"n": 2, "accuracy": 1.0}
    # 乙 (one labeller differs) and 丙 (both differ): the model gets neither held-out label.
    assert summary["contested"] == {"n": 2, "accuracy": 0.0}
    # 丙: every labeller reads complaint, the label says report; the model says complaint.
    assert summary["overruled"] == {"n": 1, "accuracy": 0.0, "model_with_labellers": 1.0}
    # The majority of the three readings: 丙 becomes complaint (two labellers against the author), 乙 stays consult.
    assert summary["majority"] == {"n": 4, "accuracy": 0.75, "relabelled": 1}
    lines = label_audit.format_lines("request type", summary)
    assert "a 50.0% of 4" in lines[0] and "b 75.0% of 4" in lines[0]
    assert "majority reading of held-out author and labellers 75.0% (1 of 4 read otherwise)" in lines[2]
    assert "model on the 2 all read alike 100.0%" in lines[3]


def test_letters_audit_reads_departments_and_top3_of_letters_only():
    letters = "heldout_letters.yml"
    examples = [example("信一", department="health", source=letters), example("信二", department="education",
                source=letters), example("短句", department="health")]
    predictions = [Prediction(None, "health", ("health", "civil_affairs", "education")),
                   Prediction(None, "health", ("health", "civil_affairs", "education")),
                   Prediction(None, "transport", ("transport",))]
    audit = {"request_type": {}, "department": {"a": {text_key("信一"): "health", text_key("信二"): "education",
                                                      text_key("短句"): "transport"}}}
    summary = summarize(examples, predictions, audit, field="department", only_sources=(letters,))
    assert summary["n"] == 2
    assert summary["unanimous"] == {"n": 2, "accuracy": 0.5, "top3": 1.0}
    # One labeller and the author: a tie is never broken against the held-out label.
    assert summary["majority"] == {"n": 2, "accuracy": 0.5, "top3": 1.0, "relabelled": 0}
    assert "between_labellers" not in summary


def test_nothing_audited_gives_no_summary():
    examples = [example("开发票找哪里", "consult")]
    predictions = [Prediction("consult", None)]
    assert summarize(examples, predictions, {"request_type": {}}, field="request_type") is None
    # The dev split: labellers exist, but none of them read these messages.
    audit = {"request_type": {"a": {text_key("别的话"): "consult"}}}
    assert summarize(examples, predictions, audit, field="request_type") is None


def test_audit_files_are_read_by_field_and_labeller(tmp_path: Path):
    (tmp_path / "request_type_x.tsv").write_text("# labeller x\nab12cd34\tconsult\n", encoding="utf-8")
    (tmp_path / "department_x.tsv").write_text("ab12cd34\thealth\tcivil_affairs\n", encoding="utf-8")
    audit = label_audit.load_audit(tmp_path)
    assert audit == {"request_type": {"x": {"ab12cd34": "consult"}}, "department": {"x": {"ab12cd34": "health"}}}
    assert label_audit.load_audit(tmp_path / "absent") == {"request_type": {}, "department": {}}


def test_committed_audit_files_name_held_out_messages_only():
    heldout = evaluate.load_heldout()
    keys = {text_key(e["text"]) for e in heldout}
    assert len(keys) == len(heldout), "two held-out texts share a key"
    allowed = {"request_type": set(TYPES), "department": {e["intent"][5:] for e in heldout if e["intent"].startswith("dept_")}}
    for field, labellers in label_audit.load_audit().items():
        for name, labels in labellers.items():
            assert set(labels) <= keys, f"{field}_{name}.tsv names a message that is not held out"
            assert set(labels.values()) <= allowed[field], f"{field}_{name}.tsv: a label outside the vocabulary"
    for path in label_audit.AUDIT_DIR.glob("*.tsv"):
        assert path.read_text(encoding="utf-8").startswith("#"), f"{path.name}: say who labelled and how"
