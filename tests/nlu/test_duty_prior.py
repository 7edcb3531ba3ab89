"""The duties' department prior (nlu/duty_prior.py): it ranks departments among themselves and never changes
whether the best intent is a department (inside Rasa's environment: the module imports scikit-learn)."""

from __future__ import annotations

import yaml

from config.directory import load_directory
from nlu.letters import compose
from tests.nlu.conftest import needs_rasa_python, run_in_rasa

IN_RASA = r"""
import json, sys
import numpy as np
from nlu.duty_prior import blend

labels = ["dept_a", "dept_b", "dept_c", "faq", "greet"]
cases = json.loads(sys.argv[1])
out = []
for case in cases:
    probs = np.asarray(case["probs"], dtype=float)
    mixed = blend(probs, labels, np.asarray(case["prior"], dtype=float), ["dept_c", "dept_b", "dept_a"],
                  case["weight"], case["mode"])
    out.append([float(x) for x in mixed])
print(json.dumps(out))
"""


def _cases() -> list[dict]:
    # The prior's labels are in another order than the classifier's: [c, b, a].
    return [
        # 0: a department ticket: the departments' share (0.8) is remixed, faq and greet untouched.
        {"probs": [0.5, 0.2, 0.1, 0.15, 0.05], "prior": [0.0, 0.0, 1.0], "weight": 0.5, "mode": "mix"},
        # 1: an FAQ question whose departments the mix would lift above it: left as it was.
        {"probs": [0.3, 0.3, 0.0, 0.35, 0.05], "prior": [0.0, 0.0, 1.0], "weight": 1.0, "mode": "mix"},
        # 2: alternatives: the best department (a) keeps its place and probability, c overtakes b.
        {"probs": [0.5, 0.2, 0.1, 0.15, 0.05], "prior": [1.0, 0.0, 0.0], "weight": 0.5, "mode": "alternatives"},
        # 3: weight 0: unchanged.
        {"probs": [0.5, 0.2, 0.1, 0.15, 0.05], "prior": [1.0, 0.0, 0.0], "weight": 0.0, "mode": "mix"},
    ]


@needs_rasa_python
def test_the_prior_moves_departments_only_and_never_the_kind_of_the_best_intent():
    cases = _cases()
    out = run_in_rasa(IN_RASA, cases)
    mixed = out[0]
    assert abs(sum(mixed[:3]) - 0.8) < 1e-9 and mixed[3:] == [0.15, 0.05]
    assert abs(mixed[0] - 0.8 * (0.5 * 0.625 + 0.5)) < 1e-9  # (1 - w) · own share + w · prior
    assert out[1] == cases[1]["probs"]
    alternatives = out[2]
    assert alternatives[0] == 0.5 and alternatives[3:] == [0.15, 0.05]
    assert alternatives[2] > alternatives[1] and abs(sum(alternatives[:3]) - 0.8) < 1e-9
    assert out[3] == cases[3]["probs"]


def test_duty_phrases_split_a_duty_into_its_matters():
    assert compose.duty_phrases("负责市容环境卫生、生活垃圾清运和公共厕所的管理") == ["市容环境卫生", "生活垃圾清运", "公共厕所的管理"]


def test_every_department_has_its_duties_in_plain_words_and_no_unknown_code():
    codes = {dept.code for dept in load_directory().departments}
    plain = yaml.safe_load(compose.DUTY_PLAIN.read_text(encoding="utf-8"))
    assert set(plain) == codes
    assert all(len(phrases) >= 10 and len(set(phrases)) == len(phrases) for phrases in plain.values())
    lines = set(compose.duty_lines(load_directory()))
    assert all(f"{code}\t{p}" in lines for code, phrases in plain.items() for p in phrases)
