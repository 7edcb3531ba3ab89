"""Second labellers' reading of the held-out labels: how far a figure is the model's error and how far the labels'.

The request-type and letter targets of issue 16 are measured against one author's labels. Where a careful second
reader, following the same definitions (the labelling guide in nlu/README.md, the departments' duties in
config/directory.yaml), files a message differently, neither reading is wrong and no model can score both. The
audit makes that visible: each labeller's agreement with the held-out labels (and Cohen's kappa), and the model's
accuracy on the messages where every labeller agrees with the held-out label (the unambiguous ones) beside its
accuracy on the rest. The targets stay on the held-out labels; nothing here changes them.

Files (nlu/tests/audit/): `request_type_<labeller>.tsv` ("key<TAB>type") and `department_<labeller>.tsv`
("key<TAB>first<TAB>second", second "-" when no other department is plausible). The key is `text_key` of the
held-out text, so the files carry no text and survive a reordering; a message whose text changed drops out of
the audit (counted as unlabelled). Each file's header says who labelled, when, and what they read.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AUDIT_DIR = Path(__file__).parent / "tests" / "audit"
FIELDS = ("request_type", "department")


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True)
class Prediction:
    """What the model said of one message, in the held-out labels' vocabulary."""

    request_type: str | None
    department: str | None
    alternatives: tuple[str, ...] = ()


def _read_tsv(path: Path) -> dict[str, str]:
    labels = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, rest = line.partition("\t")
        labels[key.strip()] = rest.split("\t")[0].strip()
    return labels


def load_audit(directory: Path = AUDIT_DIR) -> dict[str, dict[str, dict[str, str]]]:
    """{field: {labeller: {key: label}}} for every audit file present (the first choice of a department file)."""
    audit: dict[str, dict[str, dict[str, str]]] = {field: {} for field in FIELDS}
    if not directory.is_dir():
        return audit
    for field in FIELDS:
        for path in sorted(directory.glob(f"{field}_*.tsv")):
            audit[field][path.stem[len(field) + 1:]] = _read_tsv(path)
    return audit


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Agreement beyond chance between two readings of the same items (None when chance alone explains all)."""
    n = len(first)
    if n == 0 or n != len(second):
        return None
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    counts_a, counts_b = Counter(first), Counter(second)
    expected = sum(counts_a[label] * counts_b[label] for label in counts_a) / (n * n)
    return None if expected >= 1 else (observed - expected) / (1 - expected)


def _ratio(right: int, total: int) -> float | None:
    return right / total if total else None


def _gold(example: dict, field: str) -> str | None:
    if field == "request_type":
        return example.get("request_type")
    intent = str(example.get("intent", ""))
    return intent[5:] if intent.startswith("dept_") else None


def _predicted(prediction: Prediction, field: str) -> str | None:
    return prediction.request_type if field == "request_type" else prediction.department


def summarize(examples: Sequence[dict], predictions: Sequence[Prediction],
              audit: dict[str, dict[str, dict[str, str]]], *, only_sources: Sequence[str] | None = None,
              field: str) -> dict[str, Any] | None:
    """The audit of one field on the labelled examples (of `only_sources`, when given); None without labellers."""
    labellers = audit.get(field) or {}
    if not labellers:
        return None
    # (key, prediction, held-out label) of every labelled example; the key hashes the text once.
    rows = [(text_key(example["text"]), prediction, _gold(example, field))
            for example, prediction in zip(examples, predictions, strict=True)
            if (only_sources is None or example.get("source") in only_sources) and _gold(example, field)]
    if not any(key in labels for key, _, _ in rows for labels in labellers.values()):
        return None  # another set of messages (the dev split): nothing of it was audited
    out: dict[str, Any] = {"n": len(rows), "labellers": {}}
    for name, labels in sorted(labellers.items()):
        pairs = [(gold, labels[key]) for key, _, gold in rows if key in labels]
        out["labellers"][name] = {
            "n": len(pairs),
            "agreement": _ratio(sum(gold == label for gold, label in pairs), len(pairs)),
            "kappa": cohen_kappa([gold for gold, _ in pairs], [label for _, label in pairs]),
        }
    names = sorted(labellers)
    # The rows every labeller read, with their readings in the order of `names`.
    read = [(key, prediction, gold, [labellers[name][key] for name in names]) for key, prediction, gold in rows
            if all(key in labellers[name] for name in names)]
    if len(names) >= 2:
        out["between_labellers"] = {
            "n": len(read),
            "agreement": _ratio(sum(len(set(readings)) == 1 for *_, readings in read), len(read)),
            "kappa": cohen_kappa([readings[0] for *_, readings in read], [readings[1] for *_, readings in read]),
        }
    unanimous, contested, overruled, majority = [], [], [], []
    for _, prediction, gold, readings in read:
        # The reading most of the readers (the held-out author among them) share; the held-out label on a tie.
        votes = Counter([gold, *readings])
        best = max(votes.values())
        majority.append((prediction, gold if votes[gold] == best else votes.most_common(1)[0][0], gold))
        if set(readings) == {gold}:
            unanimous.append((prediction, gold, gold))
        else:
            contested.append((prediction, gold, gold))
            if len(set(readings)) == 1:
                # Every labeller reads it alike, and not as the held-out label does.
                overruled.append((prediction, gold, readings[0]))

    def accuracy(subset: list) -> dict[str, Any]:
        """Of (prediction, label, …) triples: the model against the label."""
        right = sum(_predicted(prediction, field) == label for prediction, label, _ in subset)
        out_subset: dict[str, Any] = {"n": len(subset), "accuracy": _ratio(right, len(subset))}
        if field == "department":
            out_subset["top3"] = _ratio(sum(label in prediction.alternatives for prediction, label, _ in subset),
                                        len(subset))
        return out_subset

    out["unanimous"] = accuracy(unanimous)
    out["majority"] = {**accuracy(majority), "relabelled": sum(label != gold for _, label, gold in majority)}
    out["contested"] = accuracy(contested)
    # The model's answer beside both readings of the overruled messages.
    out["overruled"] = {
        **accuracy(overruled),
        "model_with_labellers": _ratio(sum(_predicted(prediction, field) == reading
                                           for prediction, _, reading in overruled), len(overruled)),
    }
    return out


def format_lines(name: str, summary: dict[str, Any] | None) -> list[str]:
    """Report lines for `nlu.evaluate.format_report`."""
    if not summary:
        return []

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    readers = "; ".join(
        f"{labeller} {pct(s['agreement'])} of {s['n']} (kappa {s['kappa']:.2f})" if s["kappa"] is not None
        else f"{labeller} {pct(s['agreement'])} of {s['n']}"
        for labeller, s in summary["labellers"].items()
    )
    lines = [f"  label audit: {name:<14} second labellers agree with the held-out label: {readers}"]
    between = summary.get("between_labellers")
    if between:
        lines.append(f"    {'':<27} with each other {pct(between['agreement'])} of {between['n']}")
    unanimous, contested, overruled = summary["unanimous"], summary["contested"], summary["overruled"]
    majority = summary["majority"]
    top3 = f" (top-3 {pct(majority['top3'])})" if "top3" in majority else ""
    lines.append(f"    {'':<27} model against the majority reading of held-out author and labellers "
                 f"{pct(majority['accuracy'])}{top3} ({majority['relabelled']} of {majority['n']} read otherwise)")
    top3 = f" (top-3 {pct(unanimous['top3'])})" if "top3" in unanimous else ""
    lines.append(f"    {'':<27} model on the {unanimous['n']} all read alike {pct(unanimous['accuracy'])}{top3}, "
                 f"on the {contested['n']} read otherwise {pct(contested['accuracy'])}; "
                 f"{overruled['n']} where every labeller differs from the label: the model agrees with the label "
                 f"{pct(overruled['accuracy'])}, with the labellers {pct(overruled['model_with_labellers'])}")
    return lines
