"""Evaluate a model on the held-out set (nlu/tests/heldout_*.yml), and the activation guard.

A new model is served by a temporary Rasa server on a free port; the active one is measured on the
server that serves it. Metrics: those of nlu.evaluate (the final decision through the real client:
department top-1/top-3, emergency recall of rules + classifier, per-intent precision/recall/F1, the
misclassified messages) plus the classifier's own emergency recall (Rasa's top intent, no rules) and
the full confusion matrix for the heat map.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from nlu import evaluate
from nlu.client import NluClient
from nlu.server import RasaProcess


async def classifier_emergency_recall(url: str, examples: list[dict], concurrency: int = 4) -> float | None:
    """Share of the held-out emergencies whose top intent (raw Rasa, no rules) is an emergency_* intent."""
    emerg = [e for e in examples if e["intent"].startswith("emergency_")]
    if not emerg:
        return None
    sem = asyncio.Semaphore(concurrency)
    url = url.split(",")[0]  # several servers of one model (HOTLINE_NLU_PROCESSES): any one will do
    async with aiohttp.ClientSession() as http:
        async def one(text: str) -> bool:
            async with sem, http.post(f"{url.rstrip('/')}/model/parse", json={"text": text},
                                      timeout=aiohttp.ClientTimeout(total=30)) as resp:
                data = await resp.json(content_type=None)
            ranking = [r for r in data.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
            top = ranking[0]["name"] if ranking else (data.get("intent") or {}).get("name", "")
            return str(top).startswith("emergency_")

        hits = await asyncio.gather(*(one(e["text"]) for e in emerg))
    return sum(hits) / len(hits)


def confusion_matrix(gold: list[str], pred: list[str]) -> dict[str, Any]:
    labels = sorted(set(gold) | set(pred))
    index = {label: i for i, label in enumerate(labels)}
    counts = Counter(zip(gold, pred, strict=True))
    # ECharts heatmap data: [x = predicted, y = expected, n]
    return {"labels": labels, "cells": [[index[p], index[g], n] for (g, p), n in sorted(counts.items())]}


async def evaluate_url(url: str, answers: dict[str, str] | None = None, concurrency: int = 4) -> dict[str, Any]:
    examples = evaluate.load_heldout()
    started = time.monotonic()
    async with NluClient(url, timeout=30.0) as client:
        if answers:
            client.answers = dict(answers)
        if not await client.healthy():
            raise RuntimeError(f"没有可用的 NLU 服务（{url}）")
        results = await evaluate.run_examples(client, examples, concurrency)
        model = await client.model_version()
    metrics = evaluate.compute_metrics(examples, results)
    metrics["classifier_emergency_recall"] = await classifier_emergency_recall(url, examples, concurrency)
    gold = [e["intent"] for e in examples]
    pred = [evaluate.final_label(r) for r in results]
    metrics["confusion_matrix"] = confusion_matrix(gold, pred)
    metrics["confusions"] = [[g, p, n] for (g, p), n in metrics["confusions"]]
    metrics["model"] = model
    metrics["files"] = [p.name for p in evaluate.heldout_files()]
    metrics["seconds"] = round(time.monotonic() - started, 1)
    return metrics


async def evaluate_model(path: Path, answers: dict[str, str] | None = None, *,
                         log_path: Path | None = None) -> dict[str, Any]:
    """Serve `path` on a temporary Rasa server and evaluate it."""
    server = RasaProcess(path, log_path=log_path).start()
    try:
        await server.wait_ready(timeout=300)
        metrics = await evaluate_url(server.url, answers)
        metrics["load_seconds"] = round(server.load_seconds or 0, 1)
        return metrics
    finally:
        await asyncio.to_thread(server.stop)


# --------------------------------------------------------------------------- the guard

def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def guard(candidate: dict[str, Any] | None, active: dict[str, Any] | None, margin_points: float) -> list[str]:
    """Reasons to refuse activating `candidate` (empty = allowed). `margin_points`: the allowed drop in
    percentage points of department top-1 and of the classifier's own emergency recall."""
    if not candidate:
        return ["该模型尚未完成评估"]
    reasons = []
    margin = margin_points / 100
    recall = candidate.get("emergency_recall")
    if recall is None or recall < 1.0:
        reasons.append(f"紧急求助召回率（规则＋模型）为 {_pct(recall)}，必须为 100%")
    if active:
        cand_clf, act_clf = candidate.get("classifier_emergency_recall"), active.get("classifier_emergency_recall")
        if act_clf is not None and (cand_clf is None or cand_clf < act_clf - margin - 1e-9):
            reasons.append(f"模型自身的紧急意图召回率从 {_pct(act_clf)} 降到 {_pct(cand_clf)}，"
                           f"下降超过允许的 {margin_points:g} 个百分点")
        cand_dep, act_dep = candidate.get("department_top1"), active.get("department_top1")
        if act_dep is not None and (cand_dep is None or cand_dep < act_dep - margin - 1e-9):
            reasons.append(f"部门分类准确率（top-1）从 {_pct(act_dep)} 降到 {_pct(cand_dep)}，"
                           f"下降超过允许的 {margin_points:g} 个百分点")
    return reasons


def summary(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """The headline figures (the registry list and the side-by-side comparison)."""
    if not metrics:
        return None
    keys = ("department_top1", "department_top3", "emergency_recall", "classifier_emergency_recall",
            "emergency_fp_rate", "faq_accuracy", "accuracy", "handoff_rate", "region_accuracy", "n",
            "letters_top1", "letters_top3", "request_type_accuracy", "no_department_rate", "emergency_set_recall",
            "emergency_set_false_alarms", "pollution_to_environment", "request_type_letters", "request_type_short",
            "emergency_batch2_recall", "emergency_batch2_false_alarms")
    return {k: metrics.get(k) for k in keys}
