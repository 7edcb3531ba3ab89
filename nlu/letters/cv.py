"""Letters cross-validated by matter: the intent classifier's department ranking on letters it never saw.

    .venv-rasa/bin/python -m nlu.letters.cv [--folds 5] [--config '{"matter_weight": 0.3}'] [--extra-bank FILE] [-v]
    .venv-rasa/bin/python -m nlu.letters.cv --duty-weights 0,0.2,0.4 [--config '{"duty_C": 10}']

Runs in .venv-rasa (Rasa's Jieba tokenizer and `LetterAwareIntentClassifier` with nlu/config.yml's settings).
The training matters (every bank of compose.TRAIN_BANKS) are split into folds; for each fold the classifier is
trained on data/nlu without the fold's letters and bare matters, and each held-back matter comes back wrapped
twice in the dev letters' frames (compose.FRAMES_HELDOUT, the frames of nlu/dev/dev_letters.yml). Top-1 / top-3
count departments only, as `hotline nlu eval` does (no client rules). Session 10: 850 letters, 91.6 / 97.6 %
with session 9's data, ~2.5 minutes on two cores. The held-out matters (heldout_bank.yml) are never read.

`--extra-bank`: a bank that is not (yet) in compose.TRAIN_BANKS, composed as training letters and always
trained on: whether new matters help the others.

`--duty-weights`: the department prior of the duties (nlu/duty_prior.py) at several `duty_weight`s, each fold
trained once (session 12).

`--written`: the letters written freehand instead (letters/written/, session 24): each set scored by a classifier
trained without it, and the dev letters (compose-framed and fresh) by one trained on everything; `--grid` scores
settings that a parse reads (duty_weight, matter_weight, frame_cutoff…) from the same trainings. ~12 minutes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import tempfile
from pathlib import Path

import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from nlu.rasa_tokenizer import OnceLoadedJiebaTokenizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.letters import compose
from nlu.rasa_intent import LetterAwareIntentClassifier

NLU_DIR = compose.NLU_DIR


def classifier_config(overrides: dict) -> dict:
    pipeline = yaml.safe_load((NLU_DIR / "config.yml").read_text(encoding="utf-8"))["pipeline"]
    item = next(c for c in pipeline if c["name"].endswith("LetterAwareIntentClassifier"))
    return {**{k: v for k, v in item.items() if k != "name"}, **overrides}


def bank_letters(path: Path, seed: int = 4242) -> list[Message]:
    """A bank's bare matters and letters, as compose.training_letters writes them."""
    rng = random.Random(seed)
    out = []
    for dept, items in compose.read_bank(path).items():
        for i, (kind, matter) in enumerate(items):
            out.append(Message.build(text=matter, intent=f"dept_{dept}"))
            for _ in range(compose.LETTERS_PER_TRAIN_MATTER[i % 2 == 0]):
                text = compose.compose(matter, kind, compose.FRAMES_TRAIN, rng, with_place=rng.random() < 0.8)[0]
                out.append(Message.build(text=text, intent=f"dept_{dept}"))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--config", default="{}", help="JSON overrides of the classifier's settings")
    p.add_argument("--extra-bank", type=Path)
    p.add_argument("-v", "--verbose", action="store_true", help="list the letters without their department among three")
    p.add_argument("--duty-weights", help="comma-separated duty_weight values scored from one training per fold")
    p.add_argument("--written", action="store_true", help="leave one set of letters/written/ out at a time")
    p.add_argument("--grid", default="{}", help='with --written: JSON {"setting": [values]} of parse-time settings')
    args = p.parse_args(argv)
    if args.written and (args.extra_bank or args.duty_weights):
        p.error("--written scores the written sets as data/nlu holds them: --grid, not --extra-bank or --duty-weights")
    overrides = json.loads(args.config)
    weights = [float(w) for w in args.duty_weights.split(",")] if args.duty_weights else [None]
    if args.duty_weights:
        overrides["duty_weight"] = max(max(weights), 1e-6)  # trains the prior; each weight is set before scoring

    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    context = ExecutionContext(GraphSchema({}), "letters-cv")
    tokenizer = OnceLoadedJiebaTokenizer.create(
        {**OnceLoadedJiebaTokenizer.get_default_config(), "dictionary_path": "nlu/jieba_dict"},
        storage, Resource("tokenizer"), context)
    data = load_data(str(NLU_DIR / "data" / "nlu"))
    if args.written:
        tokenizer.process_training_data(data)
        return written_cv(data, tokenizer, classifier_config(overrides), json.loads(args.grid), storage, context)
    if args.extra_bank:
        data = data.merge(TrainingData(bank_letters(args.extra_bank)))
    tokenizer.process_training_data(data)

    matters = [(dept, kind, matter) for name, _ in compose.TRAIN_BANKS
               for dept, items in compose.read_bank(compose.HERE / name).items() for kind, matter in items]
    order = list(range(len(matters)))
    random.Random(7).shuffle(order)
    fold_of = {matters[i][2]: j % args.folds for j, i in enumerate(order)}
    wrap = random.Random(1216)
    counts = {w: [0, 0, 0] for w in weights}  # top-1, top-3, letters
    misses = []
    for fold in range(args.folds):
        held = [m for m in matters if fold_of[m[2]] == fold]
        keep = [ex for ex in data.intent_examples if not any(m[2] in ex.get("text") for m in held)]
        classifier = LetterAwareIntentClassifier.create(classifier_config(overrides), storage,
                                                        Resource(f"intent{fold}"), context)
        classifier.train(TrainingData(keep))
        tests = [(dept, Message(data={"text": compose.compose(matter, kind, compose.FRAMES_HELDOUT, wrap,
                                                              with_place=wrap.random() < 0.8)[0]}))
                 for dept, kind, matter in held for _ in range(2)]
        messages = [m for _, m in tests]
        tokenizer.process(messages)
        for weight in weights:
            if weight is not None:
                classifier._config["duty_weight"] = weight
            classifier.process(messages)
            for dept, message in tests:
                ranking = top_departments(message)
                counts[weight][0] += ranking[0] == dept
                counts[weight][1] += dept in ranking
                counts[weight][2] += 1
                if dept not in ranking and weight == weights[-1]:
                    misses.append((dept, ranking, message.get("text")[:80]))
    for weight, (top1, top3, n) in counts.items():
        label = f"duty_weight {weight} " if weight is not None else ""
        print(f"letters-cv {label}{args.config} {args.extra_bank or ''}: top-1 {100 * top1 / n:.1f} %, "
              f"top-3 {100 * top3 / n:.1f} % ({n} letters, {n - top3} without their department among three)")
    if args.verbose:
        for miss in misses:
            print("  ", *miss)


def top_departments(message: Message) -> list[str]:
    """The first three departments of a processed message's ranking (other intents skipped), as `eval` counts them."""
    return [r["name"].removeprefix("dept_") for r in message.get("intent_ranking") if r["name"].startswith("dept_")][:3]


def labelled_letters(path: Path) -> list[tuple[str, str]]:
    """(text, department) of a letters file, the text as the training data holds it."""
    return [(letter["text"], letter["intent"].removeprefix("dept_")) for letter in compose.read_letters(path)]


def written_cv(data: TrainingData, tokenizer: OnceLoadedJiebaTokenizer, config: dict, grid: dict,
               storage: LocalModelStorage, context: ExecutionContext) -> None:
    """Each written set by a classifier trained without it; the dev letters by one trained on all (`--written`)."""
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())] or [{}]
    counts: list[dict[str, list[int]]] = [{} for _ in combos]  # per combo: set -> [top-1, top-3, letters]
    written = {path.stem: labelled_letters(path) for path in sorted(compose.WRITTEN_DIR.glob("*.yml"))}
    dev = {name: labelled_letters(NLU_DIR / "dev" / f"{name}.yml") for name in ("dev_letters", "dev_letters_fresh")}
    runs = [(name, {name: letters}) for name, letters in written.items()] + [("", dev)]
    for left_out, scored in runs:
        held = {text for text, _ in written.get(left_out, [])}
        keep = [ex for ex in data.intent_examples if ex.get("text") not in held]
        if len(data.intent_examples) - len(keep) != len(held):
            raise SystemExit(f"{left_out}: {len(held)} letters, {len(data.intent_examples) - len(keep)} left out "
                             "(run `python -m nlu.letters.compose` first)")
        classifier = LetterAwareIntentClassifier.create(config, storage, Resource(f"written-{left_out}"), context)
        classifier.train(TrainingData(keep))
        for name, letters in scored.items():
            messages = [Message(data={"text": text}) for text, _ in letters]
            tokenizer.process(messages)
            for i, combo in enumerate(combos):
                classifier._config.update(combo)
                classifier.process(messages)
                tally = counts[i].setdefault(name, [0, 0, 0])
                for (_, dept), message in zip(letters, messages):
                    ranking = top_departments(message)
                    tally[0] += ranking[0] == dept
                    tally[1] += dept in ranking
                    tally[2] += 1
    for combo, sets in zip(combos, counts):
        top1, top3, n = (sum(sets[name][k] for name in written) for k in range(3))
        parts = ", ".join(f"{name} {t1}/{t3}/{m}" for name, (t1, t3, m) in sets.items())
        print(f"written-cv {json.dumps(combo)}: top-1 {100 * top1 / n:.1f} %, top-3 {100 * top3 / n:.1f} % "
              f"({n} letters, {n - top3} without their department among three); top-1/top-3/letters: {parts}")


if __name__ == "__main__":
    main()
