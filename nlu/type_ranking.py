"""The request-type classifier's ranking as the gateway reads it (issue 16, session 22): the types an operator is
shown beside the bot's, their confidences, and whether the console marks the type 请核对.

Kept apart from nlu/request_type.py on purpose: that module is part of the trained model (the request-type
component imports it, so its source is in the model's hash, nlu/code_fingerprint.py), and how the gateway
shows a ranking must not retrain the model.
"""

from __future__ import annotations

from nlu.request_type import TYPES
from nlu.thresholds import DEFAULT as THRESHOLDS


def alternatives(model: dict | None, limit: int = 3) -> list[dict]:
    """The classifier's ranking of request types (Rasa's `request_type` output) as [{"code", "confidence"}], best
    first, at most `limit`: what an operator is shown beside the type to confirm it (the second type is right on
    most of the classifier's errors, nlu/thresholds.py `request_type_unsure`). [] when the classifier gave no
    known type (the rules decide, and they have no confidence)."""
    if not isinstance(model, dict) or model.get("name") not in TYPES:
        return []
    out = []
    for item in model.get("ranking") or [{"name": model["name"], "confidence": model.get("confidence")}]:
        if not isinstance(item, dict) or item.get("name") not in TYPES:
            continue
        try:
            confidence = round(float(item["confidence"]), 4)
        except (KeyError, TypeError, ValueError):
            continue
        if not 0.0 <= confidence <= 1.0:  # NaN too: stored and shown as a percentage, it must be a probability
            continue
        out.append({"code": str(item["name"]), "confidence": confidence})
    out.sort(key=lambda a: a["confidence"], reverse=True)
    return out[:limit]


def confidence_of(request_type: str | None, ranking: list[dict] | None) -> float | None:
    """The classifier's confidence in `request_type` from its ranking ([{"code", "confidence"}]); None when the
    rules gave the type (no ranking) or the ranking does not hold it."""
    return next((float(alt["confidence"]) for alt in ranking or []
                 if alt.get("code") == request_type and alt.get("confidence") is not None), None)


def unsure(confidence: float | None) -> bool:
    """Whether the console marks the type 请核对: the classifier gave it below `request_type_unsure` (a type the
    rules gave has no confidence and is not marked)."""
    return confidence is not None and confidence < THRESHOLDS.request_type_unsure
