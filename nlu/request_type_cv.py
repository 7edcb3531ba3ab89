"""Measure the request-type classifier without Rasa's server and without the held-out sets (issue 16).

    .venv-rasa/bin/python -m nlu.request_type_cv [--folds 5] [--C 3] [--errors] [--word-weight W]
        [--short-rule-weight W] [--train-only FILE]

Runs in .venv-rasa (it trains `RequestTypeClassifier`'s regression the way `train()` does). Figures:

* cv: k-fold cross-validation of the hand-labelled messages (data/request_types.tsv; stratified, seeded):
  each fold is scored by a model trained on the other folds plus every training letter and bare matter;
* letters-cv: the training matters folded by matter: a fold's matters, wrapped twice each in the dev letters'
  frames (compose.FRAMES_HELDOUT, as nlu/dev/dev_letters.yml), are scored by a model that saw neither their
  training letters nor the bare matter;
* dev: the dev split (dev/dev_request_types.yml short messages, dev/dev_letters.yml letters) scored by the
  model trained on everything, as `hotline nlu train` would; the freehand letters (letters/written/freehand.yml,
  written as citizens write, not in the compose frames) and the freehand short messages
  (dev/dev_request_types_freehand.yml, session 17) and the letters at the departments' boundaries
  (letters/written/boundary.yml, session 17) and the everyday letters (letters/written/everyday.yml, session 21)
  and the fresh letters (dev/dev_letters_fresh.yml, session 23) on lines of their own. The three written sets
  train the departments since session 23, never the request type, so they still measure it.

The held-out sets (tests/heldout_*.yml, letters/heldout_bank.yml) are never read.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression

from nlu import request_type as rules
from nlu.request_type_model import NLU_DIR, RequestTypeClassifier, labelled_examples, read_labels, read_matters

_EXAMPLE = re.compile(r"^\s*- (.+)$")


def training_texts() -> list[str]:
    """Every intent example of data/nlu/*.yml (what Rasa hands to `train()`)."""
    texts = []
    for path in sorted((NLU_DIR / "data" / "nlu").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for block in data.get("nlu") or []:
            if "intent" not in block:
                continue
            texts += [m.group(1).strip() for line in str(block.get("examples", "")).splitlines()
                      if (m := _EXAMPLE.match(line))]
    return texts


def dev_examples(names: tuple[str, ...] = ("dev_request_types.yml", "dev_letters.yml"),
                 directory: Path = NLU_DIR / "dev") -> list[tuple[str, str]]:
    out = []
    for name in names:
        data = yaml.safe_load((directory / name).read_text(encoding="utf-8"))
        out += [(str(e["text"]), str(e["request_type"])) for e in data["examples"] if e.get("request_type")]
    return out


class Model:
    """The component's regression, trained on (text, type) pairs."""

    def __init__(self, C: float, **config: object) -> None:
        self.component = RequestTypeClassifier({"C": C, **config}, None, None)  # type: ignore[arg-type]

    def fit(self, examples: list[tuple[str, str]]) -> "Model":
        c = self.component
        c._vectorizer = c._make_vectorizer()
        model = LogisticRegression(C=c._config["C"], max_iter=c._config["max_iter"], class_weight="balanced")
        model.fit(c._features([t for t, _ in examples], fit=True), [k for _, k in examples])
        self.model = model
        return self

    def predict(self, texts: list[str]) -> list[str]:
        """The component's answer: the regression's scores plus its `letter_bias` on letters."""
        self.component._labels = [str(x) for x in self.model.classes_]
        scores = self.model.decision_function(self.component._features(texts))
        scores = scores + np.vstack([self.component.letter_bias(t) for t in texts])
        return [self.component._labels[i] for i in np.argmax(scores, axis=1)]


def folds(items: list, k: int, key=lambda x: x, seed: int = 16) -> list[int]:
    """A stratified fold number per item (by `key`)."""
    rng = random.Random(seed)
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_key[key(item)].append(i)
    out = [0] * len(items)
    for indices in by_key.values():
        rng.shuffle(indices)
        for j, i in enumerate(indices):
            out[i] = j % k
    return out


def report(name: str, gold: list[str], pred: list[str], texts: list[str] | None = None, errors: bool = False) -> None:
    right = sum(g == p for g, p in zip(gold, pred))
    per = Counter(gold)
    hits = Counter(g for g, p in zip(gold, pred) if g == p)
    by_type = "  ".join(f"{t} {100 * hits[t] / per[t]:.1f}" for t in rules.TYPES if per[t])
    print(f"{name:<12} {100 * right / len(gold):5.1f} % ({right}/{len(gold)})   {by_type}")
    if errors and texts:
        for t, g, p in zip(texts, gold, pred):
            if g != p:
                print(f"    {g:>10} -> {p:<10} {t[:90]}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--C", type=float, default=RequestTypeClassifier.get_default_config()["C"])
    p.add_argument("--errors", action="store_true", help="list the dev split's misses (never the held-out sets)")
    p.add_argument("--skip-letters-cv", action="store_true")
    p.add_argument("--no-letter-bias", action="store_true", help="the regression alone (no `letter_bias`)")
    p.add_argument("--word-weight", type=float, help="the jieba words' block weight (default: the component's)")
    p.add_argument("--short-rule-weight", type=float, help="the rule features' scale on short messages (default: the "
                   "component's)")
    p.add_argument("--train-only", type=Path, help="more labelled messages (a .tsv) that always train and are never "
                   "scored: the same folds with and without them")
    args = p.parse_args(argv)

    config = RequestTypeClassifier.get_default_config()
    extra: dict[str, object] = {"letter_bias": {}} if args.no_letter_bias else {}
    if args.word_weight is not None:
        extra["word_weight"] = args.word_weight
    if args.short_rule_weight is not None:
        extra["short_rule_weight"] = args.short_rule_weight
    labels = read_labels(NLU_DIR / config["labels"])
    matters = [pair for bank in config["matters"] for pair in read_matters(NLU_DIR / bank)]
    texts = training_texts()
    everything = labelled_examples(texts, labels, matters)
    letters = everything[len(labels):]  # training letters and bare matters, labelled by their matter
    if args.train_only:
        more = read_labels(args.train_only)
        letters += more
        everything += more

    # cv: folds of the hand-labelled messages; the letters always train.
    fold = folds(labels, args.folds, key=lambda pair: pair[1])
    pred = [""] * len(labels)
    for f in range(args.folds):
        model = Model(args.C, **extra).fit([x for x, n in zip(labels, fold) if n != f] + letters)
        test = [i for i, n in enumerate(fold) if n == f]
        for i, y in zip(test, model.predict([labels[i][0] for i in test])):
            pred[i] = y
    report("cv", [k for _, k in labels], pred)

    if not args.skip_letters_cv:
        # letters-cv: folds of the training matters; a fold's matters come back wrapped in the dev letters' frames
        # (FRAMES_HELDOUT: other salutations, requests, closings), scored by a model that never saw the matter.
        from nlu.letters.compose import FRAMES_HELDOUT, compose

        matter_fold = dict(zip([m for m, _ in matters], folds(matters, args.folds, key=lambda pair: pair[1])))
        letter_fold = [next(matter_fold[m] for m, _ in matters if m in t) for t, _ in letters if any(m in t for m, _ in matters)]
        wrapped = [x for x in letters if any(m in x[0] for m, _ in matters)]
        others = [x for x in letters if not any(m in x[0] for m, _ in matters)]
        rng = random.Random(1216)
        gold, pred = [], []
        for f in range(args.folds):
            model = Model(args.C, **extra).fit(labels + others + [x for x, n in zip(wrapped, letter_fold) if n != f])
            test = [(compose(m, k, FRAMES_HELDOUT, rng, with_place=rng.random() < 0.8)[0], k)
                    for m, k in matters if matter_fold[m] == f for _ in range(2)]
            gold += [k for _, k in test]
            pred += model.predict([t for t, _ in test])
        report("letters-cv", gold, pred)

    model = Model(args.C, **extra).fit(everything)
    dev = dev_examples()
    short = [x for x in dev if len(x[0]) < rules.LONG_CHARS]
    long = [x for x in dev if len(x[0]) >= rules.LONG_CHARS]
    # The freehand letters on lines of their own: not wrapped in the compose frames as the others are. Those of
    # sessions 16, 17 and 21 train the departments since session 23 (nlu/letters/written/), never the request type.
    written = NLU_DIR / "letters" / "written"
    freehand = dev_examples(("freehand.yml",), written)
    freehand_short = dev_examples(("dev_request_types_freehand.yml",))
    boundary = dev_examples(("boundary.yml",), written)
    everyday = dev_examples(("everyday.yml",), written)
    fresh = dev_examples(("dev_letters_fresh.yml",))
    for name, part in (("dev short", short), ("dev letters", long), ("dev all", dev), ("dev freehand", freehand),
                       ("free short", freehand_short), ("boundary", boundary), ("everyday", everyday),
                       ("fresh", fresh)):
        report(name, [k for _, k in part], model.predict([t for t, _ in part]), [t for t, _ in part], args.errors and name != "dev all")


if __name__ == "__main__":
    main()
