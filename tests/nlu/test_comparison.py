"""`hotline nlu eval` side by side with the model before, and the issue-16 figures (no Rasa needed)."""

from __future__ import annotations

import os

from nlu import comparison, evaluate
from nlu.client import NluResult


def _alts(*codes: str) -> list[dict]:
    return [{"code": c, "confidence": 0.3} for c in codes]


def test_letter_and_emergency_set_figures():
    examples = [
        {"text": "信一", "intent": "dept_health", "request_type": "complaint", "region": None, "source": evaluate.LETTERS_FILE},
        {"text": "信二", "intent": "dept_education", "request_type": "help", "region": None, "source": evaluate.LETTERS_FILE},
        {"text": "着火了", "intent": "emergency_fire", "request_type": None, "region": None, "source": evaluate.EMERGENCY_FILE},
        {"text": "烧烤油烟", "intent": "dept_ecology_environment", "request_type": "complaint", "region": None,
         "source": evaluate.EMERGENCY_FILE},
        {"text": "烟花", "intent": "dept_public_security", "request_type": "complaint", "region": None,
         "source": evaluate.EMERGENCY_FILE},
    ]
    results = [
        NluResult(department="health", department_alternatives=_alts("health", "civil_affairs", "justice"),
                  request_type="complaint"),
        NluResult(department="civil_affairs", department_alternatives=_alts("civil_affairs", "health", "education"),
                  request_type="complaint"),
        NluResult(emergency={"number": "119", "kind": "fire"}),
        NluResult(department="ecology_environment", department_alternatives=_alts("ecology_environment"),
                  request_type="complaint"),
        NluResult(department=None, emergency={"number": "119", "kind": "fire"}),
    ]
    m = evaluate.compute_metrics(examples, results)
    assert m["letters_n"] == 2 and m["letters_top1"] == 0.5 and m["letters_top3"] == 1.0
    assert m["emergency_set_recall"] == 1.0 and m["emergency_set_false_alarms"] == 1
    assert m["pollution_to_environment"] == 1.0
    assert m["no_department_rate"] == 0.25  # 4 department messages, the fireworks one got none
    assert m["targets"]["emergency_set_false_alarms"]["met"] and not m["targets"]["letters_top1"]["met"]
    assert "letters top-1 / top-3" in evaluate.format_report(m)


def test_request_type_figures_of_what_the_console_shows():
    def typed(*ranking: tuple[str, float]) -> NluResult:
        return NluResult(request_type=ranking[0][0], department="health",
                         request_type_alternatives=[{"code": c, "confidence": p} for c, p in ranking])

    examples = [{"text": f"消息{i}", "intent": "dept_health", "request_type": kind, "region": None}
                for i, kind in enumerate(("complaint", "consult", "help", "report", "praise"))]
    results = [
        typed(("complaint", 0.9), ("consult", 0.05)),  # sure, right
        typed(("complaint", 0.5), ("consult", 0.4)),  # unsure, wrong, right one second
        typed(("help", 0.55), ("complaint", 0.3)),  # unsure, right
        typed(("complaint", 0.8), ("help", 0.1), ("report", 0.05)),  # sure, wrong, right one third
        NluResult(request_type="praise", department="health"),  # the rules decided: no confidence
    ]
    m = evaluate.compute_metrics(examples, results)
    assert m["request_type_accuracy"] == 0.6 and m["request_type_top2"] == 0.8
    assert m["request_type_unsure_rate"] == 0.4 and m["request_type_unsure_accuracy"] == 0.5
    assert m["request_type_sure_accuracy"] == 0.5
    report = evaluate.format_report(m)
    assert "request type top-2" in report and "请核对" in report
    assert "request_type_top2" in {key for key, _, _ in comparison.HEADLINE}


def test_side_by_side_and_kept_evaluations(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTLINE_NLU_MODEL_DIR", str(tmp_path))
    old, new, newest = (tmp_path / f"nlu-{h}.tar.gz" for h in ("aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"))
    for i, path in enumerate((old, new, newest)):
        path.write_bytes(b"model")
        os.utime(path, (1000 + i, 1000 + i))
    assert comparison.previous_model(new) == old
    assert comparison.previous_model(old) is None

    assert comparison.load(old) is None
    comparison.save(old, {"model": "nlu-aaaaaaaaaaaa", "letters_top1": 0.67, "emergency_set_false_alarms": 9})
    kept = comparison.load(old)
    assert kept["letters_top1"] == 0.67
    # Measured with other held-out sets or rules: not reused.
    monkeypatch.setattr(comparison, "fingerprint", lambda: "something else")
    assert comparison.load(old) is None

    table = comparison.format_side_by_side(
        {"model": "nlu-bbbbbbbbbbbb", "letters_top1": 0.88, "emergency_set_false_alarms": 0}, kept)
    row = next(line for line in table.splitlines() if "letters top-1" in line)
    assert "67.0%" in row and "88.0%" in row and "+21.0" in row
    alarms = next(line for line in table.splitlines() if "false alarms" in line)
    assert alarms.split()[-3:] == ["9", "0", "-9"]
    assert table.splitlines()[0].split() == ["nlu-aaaaaaaaaaaa", "nlu-bbbbbbbbbbbb", "change"]
