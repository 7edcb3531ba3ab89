"""The departments' statutory duties as a prior that ranks departments among themselves (issue 16, session 12).

Runs inside .venv-rasa only (NumPy, scikit-learn), loaded by the intent classifier (nlu/rasa_intent.py).

Why a separate model: the duties' listed matters (「生活垃圾清运」, 「公共厕所的管理」) as *examples of the intent
classifier* helped the letters on the dev split and in cross-validation but pulled FAQ questions to departments
on the held-out set (session 10, withdrawn in bbcf0e1): the classifier decides both *whether* a message is a
ticket and *which* department, and the duties' words moved the first decision too. Here they only move the
second: a small model of departments only (the duty phrases of nlu/data/duty_phrases.tsv, written by
nlu/letters/compose.py, plus the departments' training examples) scores the departments, and its scores are
mixed into the classifier's department probabilities *within their total*: every other intent keeps its
probability, and a message whose best intent is (or is not) a department still is (`blend`).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Text, Tuple

import numpy as np
from sklearn.linear_model import LogisticRegression

from nlu.text_features import TextFeatures, Vector, softmax

DEPT_PREFIX = "dept_"


def read_duty_phrases(path: Path) -> List[Tuple[Text, Text]]:
    """(intent, phrase) pairs of a "department<TAB>phrase" file; [] when there is none (admin working copies)."""
    if not path.exists():
        return []
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            code, phrase = line.split("\t", 1)
            pairs.append((DEPT_PREFIX + code.strip(), phrase.strip()))
    return pairs


class DutyPrior:
    """Department probabilities from a logistic regression over the classifier's own features."""

    def __init__(self, labels: Sequence[Text], coef: np.ndarray, intercept: np.ndarray) -> None:
        self.labels = [str(label) for label in labels]
        self.coef, self.intercept = np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64)
        self._coef_t = np.ascontiguousarray(self.coef.T)

    @classmethod
    def fit(cls, features: TextFeatures, texts: List[Text], words: List[List[Text]], intents: List[Text],
            phrases: List[Tuple[Text, Text]], phrase_words: List[List[Text]], C: float,
            phrase_weight: float, with_examples: bool = True, max_iter: int = 3000) -> Optional["DutyPrior"]:
        """Trained on the duty phrases (`phrase_weight` each: a few hundred short phrases among thousands of
        letters would otherwise say little) and, `with_examples`, the departments' examples (weight 1)."""
        keep = [i for i, intent in enumerate(intents) if intent.startswith(DEPT_PREFIX)] if with_examples else []
        if not phrases:
            return None
        all_texts = [texts[i] for i in keep] + [p for _, p in phrases]
        all_words = [words[i] for i in keep] + phrase_words
        labels = [intents[i] for i in keep] + [intent for intent, _ in phrases]
        weights = np.array([1.0] * len(keep) + [phrase_weight] * len(phrases))
        model = LogisticRegression(C=C, max_iter=max_iter)
        model.fit(features.matrix(all_texts, all_words), labels, sample_weight=weights)
        return cls(list(model.classes_), model.coef_, model.intercept_)

    def probabilities(self, vector: Vector) -> np.ndarray:
        """`vector`: the text's features as the classifier computed them (the prior shares its features)."""
        return softmax(vector.scores(self._coef_t, self.intercept)[None, :])[0]


def blend(probs: np.ndarray, labels: Sequence[Text], prior: np.ndarray, prior_labels: Sequence[Text],
          weight: float, mode: Text = "mix") -> np.ndarray:
    """`probs` with its departments' share redistributed as (1 − weight) × their own split + weight × `prior`.

    The departments' total, every other intent's probability and whether the best intent is a department are
    kept: when the mix would change the latter (a department overtaking the FAQ, or falling below it), the
    classifier's own probabilities are returned.
    """
    if weight <= 0.0:
        return probs
    index = {label: i for i, label in enumerate(labels)}
    pairs = [(index[label], j) for j, label in enumerate(prior_labels) if label in index]
    if not pairs:
        return probs
    at, src = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    total = probs[at].sum()
    if total <= 0.0:
        return probs
    own = probs[at] / total
    theirs = prior[src] / max(prior[src].sum(), 1e-12)
    mixed = probs.copy()
    mixed[at] = total * ((1.0 - weight) * own + weight * theirs)
    if mode == "alternatives":
        # The best department and its probability stay; the others share the rest of the departments' total
        # in the mixed proportions, none reaching the best (so every intent above them keeps its rank).
        best = int(np.argmax(probs[at]))
        others = np.arange(len(at)) != best
        rest = total - probs[at][best]
        share = mixed[at][others]
        out = probs.copy()
        values = out[at]
        # Strictly below the best: a tie would let the ranking's sort put another department first.
        values[others] = np.minimum(rest * share / max(share.sum(), 1e-12), np.nextafter(probs[at][best], 0.0))
        out[at] = values
        return out
    is_dept = np.zeros(len(labels), dtype=bool)
    is_dept[at] = True
    if is_dept[int(np.argmax(mixed))] != is_dept[int(np.argmax(probs))]:
        return probs
    return mixed
