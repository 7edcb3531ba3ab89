"""Side by side: `hotline nlu eval` shows the figures of a model next to those of the model before it.

The evaluation of a model is kept beside it in the model cache (`nlu-<hash>.eval.json`), with a
fingerprint of what it was measured with (the held-out sets and the client's rules and thresholds):
a kept evaluation is reused only while that fingerprint holds, otherwise the model is measured again.
"The model before" is the newest other model of the cache trained before this one — the one the
registry kept when this one was trained.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from nlu import evaluate, label_audit, training

NLU_DIR = Path(__file__).resolve().parent
# What else decides the figures besides the model: the held-out sets and the client's rules.
_RULE_FILES = ("client.py", "emergency.py", "request_type.py", "hotline_topics.py", "pleasantries.py", "thresholds.py",
               "regions.py", "type_ranking.py", "faq_answers.yml")

# (metric, label, kind): "pct" a ratio, "count" a number of messages, "seconds".
HEADLINE: tuple[tuple[str, str, str], ...] = (
    ("department_top1", "department top-1", "pct"),
    ("department_top3", "department top-3", "pct"),
    ("letters_top1", "letters top-1", "pct"),
    ("letters_top3", "letters top-3", "pct"),
    ("letters_top1_read_alike", "letters top-1 (read alike)", "pct"),
    ("letters_top3_read_alike", "letters top-3 (read alike)", "pct"),
    ("letters_top1_majority", "letters top-1 (majority label)", "pct"),
    ("letters_top3_majority", "letters top-3 (majority label)", "pct"),
    ("no_department_rate", "tickets with no department", "pct"),
    ("request_type_accuracy", "request type", "pct"),
    ("request_type_letters", "request type (letters)", "pct"),
    ("request_type_short", "request type (short messages)", "pct"),
    ("request_type_read_alike", "request type (read alike)", "pct"),
    ("request_type_majority", "request type (majority label)", "pct"),
    ("request_type_top2", "request type top-2", "pct"),
    ("request_type_unsure_rate", "request type marked unsure", "pct"),
    ("request_type_unsure_accuracy", "request type right when unsure", "pct"),
    ("faq_accuracy", "FAQ answered right", "pct"),
    ("faq_wrong_answers", "FAQ wrong answers", "count"),
    ("emergency_recall", "emergency recall", "pct"),
    ("emergency_right_number", "emergency right number", "pct"),
    ("emergency_fp_rate", "emergency false-positive rate", "pct"),
    ("emergency_set_recall", "emergency set recall", "pct"),
    ("emergency_set_false_alarms", "emergency set false alarms", "count"),
    ("emergency_batch2_recall", "emergency batch 2 recall", "pct"),
    ("emergency_batch2_false_alarms", "emergency batch 2 false alarms", "count"),
    ("pollution_to_environment", "pollution to environment dept", "pct"),
    ("region_accuracy", "region", "pct"),
    ("accuracy", "overall decision", "pct"),
    ("handoff_rate", "handoff rate", "pct"),
    ("train_seconds", "training time", "seconds"),
)


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in [*evaluate.heldout_files(), *sorted(label_audit.AUDIT_DIR.glob("*.tsv")),
                 *(NLU_DIR / name for name in _RULE_FILES)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def sidecar(model: Path) -> Path:
    return model.with_name(model.name.removesuffix(".tar.gz") + ".eval.json")


def save(model: Path, metrics: dict[str, Any]) -> None:
    sidecar(model).write_text(json.dumps({"fingerprint": fingerprint(), "metrics": metrics}, ensure_ascii=False,
                                         default=str), encoding="utf-8")


def load(model: Path) -> dict[str, Any] | None:
    """The kept evaluation of `model`, if it was measured with today's held-out sets and rules."""
    try:
        data = json.loads(sidecar(model).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("metrics") if data.get("fingerprint") == fingerprint() else None


def previous_model(model: Path) -> Path | None:
    """The newest other model of the cache trained before `model`."""
    stamp = model.stat().st_mtime
    older = [p for p in training.model_cache_dir().glob(f"{training.MODEL_PREFIX}*.tar.gz")
             if p.name != model.name and p.stat().st_mtime <= stamp]
    return max(older, key=lambda p: p.stat().st_mtime) if older else None


def with_training_time(model: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    info = training.training_info(model) or {}
    return {**metrics, "train_seconds": info.get("train_seconds")}


def _cell(value: Any, kind: str) -> str:
    if value is None:
        return "n/a"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "seconds":
        return f"{value:.0f} s"
    return str(value)


def _delta(new: Any, old: Any, kind: str) -> str:
    if new is None or old is None:
        return ""
    if kind == "pct":
        return f"{100 * (new - old):+.1f}"
    return f"{new - old:+.0f}"


def format_side_by_side(metrics: dict[str, Any], previous: dict[str, Any] | None) -> str:
    this_name = str(metrics.get("model") or "this model")
    prev_name = str((previous or {}).get("model") or "no previous model")
    width = max(len(this_name), len(prev_name), 12)
    lines = [f"  {'':32} {prev_name:>{width}} {this_name:>{width}}   change"]
    for key, label, kind in HEADLINE:
        new = metrics.get(key)
        old = (previous or {}).get(key)
        lines.append(f"  {label:32} {_cell(old, kind):>{width}} {_cell(new, kind):>{width}}   {_delta(new, old, kind)}")
    return "\n".join(lines)
