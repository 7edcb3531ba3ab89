"""Rasa parse cost, measured honestly, with baselines in the same run (issue 15).

For each model (the model of the current data, optional `--compare` models, e.g. main's, and a
baseline trained on the spot: JiebaTokenizer + CountVectorsFeaturizer + LogisticRegressionClassifier
on the same data, the smallest sensible Chinese Rasa pipeline):

  http     a real `rasa run --enable-api` on a free port; sequential POST /model/parse over the
           held-out texts (short messages and long letters, in order), after a warm-up: p50 / p95 /
           mean latency, parses per second, and CPU-ms per parse of the Rasa process (user+sys from
           /proc, so a busy shared machine inflates wall time but hardly the CPU figure);
  profile  the same texts through Rasa's own model loading (Agent.load) in a `.venv-rasa` child,
           every graph node's process() timed: where a parse spends its time.

    .venv/bin/python bench/nlu_parse.py [-n 400] [--compare MODEL.tar.gz ...] [--no-baseline]

The profile part runs in .venv-rasa (`bench/nlu_parse.py --profile MODEL`) and prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BASELINE_CONFIG = """\
recipe: default.v1
language: zh
assistant_id: bench-baseline
pipeline:
  - name: JiebaTokenizer
    dictionary_path: nlu/jieba_dict
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
policies: []
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its waited-for children (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- profile (.venv-rasa)

def profile(model: str, texts: list[str]) -> dict:
    """Per graph node process() time through Rasa's own loading (runs inside .venv-rasa)."""
    import logging

    logging.disable(logging.WARNING)
    from rasa.core.agent import Agent
    from rasa.engine.graph import GraphNode

    spent: dict[str, list[float]] = {}
    original = GraphNode.__call__

    def timed(self, *inputs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return original(self, *inputs)
        finally:
            spent.setdefault(self._node_name, []).append(time.perf_counter() - t0)

    GraphNode.__call__ = timed
    agent = Agent.load(model)

    async def run() -> list[float]:
        for text in texts[:10]:
            await agent.parse_message(text)
        spent.clear()
        totals = []
        for text in texts:
            t0 = time.perf_counter()
            await agent.parse_message(text)
            totals.append(time.perf_counter() - t0)
        return totals

    totals = asyncio.run(run())
    nodes = {name: {"mean_ms": 1000 * statistics.mean(v), "p50_ms": 1000 * statistics.median(v)}
             for name, v in spent.items() if v}
    return {"parse_p50_ms": 1000 * statistics.median(totals), "parse_mean_ms": 1000 * statistics.mean(totals),
            "nodes": nodes}


def run_profile(model: Path, texts: list[str]) -> dict | None:
    from nlu.server import serving_env

    python = REPO / ".venv-rasa" / "bin" / "python"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as fh:
        json.dump(texts, fh, ensure_ascii=False)
    try:
        done = subprocess.run([str(python), str(Path(__file__).resolve()), "--profile", str(model), fh.name],
                              env=serving_env(), cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    finally:
        os.unlink(fh.name)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(f"    profile failed: {done.stderr[-500:]}")
        return None
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------------------------- HTTP

async def measure_http(model: Path, texts: list[str], n: int) -> dict:
    import aiohttp

    from nlu.server import RasaProcess

    server = RasaProcess(model).start()
    try:
        await server.wait_ready(600)
        async with aiohttp.ClientSession() as session:
            async def parse(text: str) -> None:
                async with session.post(f"{server.url}/model/parse", json={"text": text}) as resp:
                    resp.raise_for_status()
                    await resp.read()

            for text in texts[:20]:
                await parse(text)
            latencies = []
            cpu0, wall0 = cpu_seconds(server.process.pid), time.perf_counter()
            for i in range(n):
                t0 = time.perf_counter()
                await parse(texts[i % len(texts)])
                latencies.append(time.perf_counter() - t0)
            wall, cpu = time.perf_counter() - wall0, cpu_seconds(server.process.pid) - cpu0
    finally:
        server.stop()
    return {"p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * percentile(latencies, 0.95),
            "mean_ms": 1000 * statistics.mean(latencies), "per_s": n / wall, "cpu_ms": 1000 * cpu / n,
            "load_s": server.load_seconds}


def train_baseline(out_dir: Path) -> Path:
    from nlu.training import NLU_DIR, rasa_bin, rasa_env

    config = out_dir / "baseline.yml"
    config.write_text(BASELINE_CONFIG, encoding="utf-8")
    subprocess.run([rasa_bin(), "train", "nlu", "--config", str(config), "--nlu", str(NLU_DIR / "data"),
                    "--out", str(out_dir), "--fixed-model-name", "baseline"],
                   env=rasa_env(), cwd=REPO, check=True, capture_output=True, timeout=900)
    return out_dir / "baseline.tar.gz"


def main(args: argparse.Namespace) -> int:
    from nlu import evaluate, training

    texts = [ex["text"] for ex in evaluate.load_heldout()]
    letters = sum(len(t) >= 60 for t in texts)
    print(f"Rasa parse benchmark — {len(texts)} held-out texts ({letters} of >= 60 characters), "
          f"n={args.n} sequential parses per model, load {os.getloadavg()[0]:.1f}")
    models: list[tuple[str, Path]] = [("current", training.ensure_model(progress=False))]
    models += [(Path(m).name.removesuffix(".tar.gz"), Path(m)) for m in args.compare]
    with tempfile.TemporaryDirectory(prefix="bench-parse-") as tmp:
        if not args.no_baseline:
            t0 = time.monotonic()
            models.append(("baseline", train_baseline(Path(tmp))))
            print(f"  baseline (Jieba + CountVectors + LogisticRegression) trained in {time.monotonic() - t0:.0f} s")
        results = {}
        for name, model in models:
            http = asyncio.run(measure_http(model, texts, args.n))
            prof = run_profile(model, texts) if not args.no_profile else None
            results[name] = (http, prof)
    base = results.get("baseline", (None, None))[0]
    print()
    print(f"  {'model':<22} {'p50':>7} {'p95':>7} {'mean':>7} {'parses/s':>9} {'CPU-ms':>7}  vs baseline (CPU)")
    for name, (http, _) in results.items():
        ratio = f"x{http['cpu_ms'] / base['cpu_ms']:.2f}" if base else ""
        print(f"  {name:<22} {http['p50_ms']:6.1f}ms {http['p95_ms']:6.1f}ms {http['mean_ms']:6.1f}ms "
              f"{http['per_s']:8.1f} {http['cpu_ms']:7.1f}  {ratio}")
    for name, (_, prof) in results.items():
        if not prof:
            continue
        print(f"\n  {name}: in-process parse p50 {prof['parse_p50_ms']:.1f} ms, mean {prof['parse_mean_ms']:.1f} ms;"
              " per component (mean / p50 ms):")
        for node, t in sorted(prof["nodes"].items(), key=lambda kv: -kv[1]["mean_ms"]):
            if t["mean_ms"] >= 0.05:
                print(f"    {node:<60} {t['mean_ms']:6.2f} {t['p50_ms']:6.2f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--profile":
        print(json.dumps(profile(sys.argv[2], json.loads(Path(sys.argv[3]).read_text(encoding="utf-8")))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400, help="sequential parses per model")
    parser.add_argument("--compare", nargs="*", default=[], help="other model files measured in the same run")
    parser.add_argument("--no-baseline", action="store_true", help="skip training the baseline pipeline")
    parser.add_argument("--no-profile", action="store_true", help="skip the per-component profile")
    sys.exit(main(parser.parse_args()))
