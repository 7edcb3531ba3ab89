"""Commands behind `hotline nlu train|eval|activate` (the gateway's CLI dispatches here).

The functions take plain arguments and return an exit code, so the gateway's CLI can call them
directly. Standalone:

    .venv/bin/python -m nlu.cli train [--force] [--quiet]
    .venv/bin/python -m nlu.cli eval [--url URL] [--model PATH] [--json FILE] [--verbose]
    .venv/bin/python -m nlu.cli activate MODEL [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from nlu import comparison, evaluate, training
from nlu.client import NluClient
from nlu.server import RasaProcess

DEFAULT_RASA_URL = "http://127.0.0.1:5005"


def cmd_train(args: Any = None, *, force: bool = False, progress: bool = True) -> int:
    """Train a model for the current data unless the cache has one (or `force`). Prints the model path.

    `args` may be the gateway CLI's argparse namespace (`.force`, `.quiet`) or None.
    """
    force = bool(getattr(args, "force", force))
    progress = not getattr(args, "quiet", not progress)
    try:
        if force:
            path = training.train(progress=progress)
        else:
            cached = training.find_model()
            if cached:
                print(f"model for the current data (hash {training.data_hash()}) already trained: {cached}")
                return 0
            path = training.ensure_model(progress=progress)
    except (training.TrainingError, OSError) as exc:
        print(f"training failed: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def cmd_eval(args: Any = None, *, url: str | None = None, model: str | None = None,
             json_out: str | bool | None = None, verbose: bool = False) -> int:
    """Evaluate on the held-out sets and print the metrics.

    Against `url` (or $RASA_URL) if given; otherwise a temporary Rasa server on a free port serves
    `model` or the model of the current data (trained first if needed). `json_out`: True prints the
    metrics as JSON instead of the table, a path also writes them there. `args` may be the gateway
    CLI's argparse namespace (`.url`, `.model`, `.json`, `.verbose`). Exit code 0 when the evaluation
    ran, 1 when it could not (the targets are reported, not enforced).
    """
    url = getattr(args, "url", None) or url or os.environ.get("RASA_URL")
    model = getattr(args, "model", None) or model
    json_out = getattr(args, "json", None) or getattr(args, "json_out", None) or json_out
    verbose = bool(getattr(args, "verbose", verbose))
    compare = not getattr(args, "no_compare", False)
    return asyncio.run(_eval(url, model, json_out, verbose, compare, bool(getattr(args, "dev", False)),
                             getattr(args, "previous", None)))


async def _measure(model_path: Path | None, url: str | None, paths: list[Path] | None = None) -> dict:
    """Evaluate the server at `url`, or `model_path` on a temporary server."""
    server = None
    try:
        if not url:
            print(f"[nlu] starting a temporary Rasa server with {model_path.name} ...", file=sys.stderr)
            server = RasaProcess(model_path).start()
            await server.wait_ready()
            print(f"[nlu] Rasa ready in {server.load_seconds:.1f} s at {server.url}", file=sys.stderr)
            url = server.url
        async with NluClient(url, timeout=30.0) as client:
            if not await client.healthy():
                raise RuntimeError(f"no Rasa server with a model at {url}")
            return await evaluate.evaluate(client, paths)
    finally:
        if server:
            server.stop()


async def _eval(url: str | None, model: str | None, json_out: str | bool | None, verbose: bool,
                compare: bool = True, dev: bool = False, previous_model: str | None = None) -> int:
    try:
        model_path = None
        if not url:
            model_path = resolve_model(model) if model else training.ensure_model(progress=True)
        if dev:
            # The dev split: where nlu/thresholds.py is set (its calibration tables), never a result.
            metrics = await _measure(model_path, url, sorted(evaluate.DEV_DIR.glob("*.yml")))
            print(evaluate.format_report(metrics, verbose=verbose))
            return 0
        metrics = await _measure(model_path, url)
        if model_path is None and metrics.get("model"):
            with contextlib.suppress(FileNotFoundError):
                model_path = resolve_model(f"{metrics['model']}.tar.gz")
        previous = None
        if model_path:
            metrics = comparison.with_training_time(model_path, metrics)
            comparison.save(model_path, metrics)
            before = comparison.previous_model(model_path) if compare else None
            if compare and previous_model:
                before = resolve_model(previous_model)
            if before:
                previous = comparison.load(before)
                if previous is None:
                    print(f"[nlu] measuring the model before, {before.name}, for the comparison ...", file=sys.stderr)
                    previous = comparison.with_training_time(before, await _measure(before, None))
                    comparison.save(before, previous)
    except (training.TrainingError, RuntimeError, TimeoutError, FileNotFoundError) as exc:
        print(f"evaluation failed: {exc}", file=sys.stderr)
        return 1
    if json_out is True:
        print(evaluate.to_json({**metrics, "previous": previous}))
        return 0
    print(evaluate.format_report(metrics, verbose=verbose))
    print("\n  side by side with the model trained before it:")
    print(comparison.format_side_by_side(metrics, previous))
    if json_out:
        Path(json_out).write_text(evaluate.to_json({**metrics, "previous": previous}), encoding="utf-8")
    return 0


def resolve_model(model: str) -> Path:
    """A model given as a path, a file name in the cache, or a (part of a) data hash."""
    path = Path(model).expanduser()
    if path.is_file():
        return path.resolve()
    cache = training.model_cache_dir()
    matches = sorted(p for p in cache.glob("*.tar.gz") if model in p.name)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FileNotFoundError(f"no model {model!r} (neither a file nor in {cache})")
    raise FileNotFoundError(f"{model!r} matches several models: {', '.join(p.name for p in matches)}")


def cmd_activate(model: str, rasa_url: str | None = None) -> int:
    """Hot-swap the model of a running Rasa server (`PUT /model`) and verify it parses afterwards.

    While the new model loads, a probe keeps parsing through the client (2 s timeout, like the
    gateway) and reports how many parses failed or were slow. The path must be readable by the
    Rasa server (same machine, or the same path inside its container).
    """
    return asyncio.run(_activate(model, rasa_url or os.environ.get("RASA_URL") or DEFAULT_RASA_URL))


async def _activate(model: str, url: str) -> int:
    try:
        path = resolve_model(model)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    async with NluClient(url, timeout=2.0) as probe_client:
        before = await probe_client.model_version()
        if before is None:
            print(f"no Rasa server with a model at {url}", file=sys.stderr)
            return 1
        print(f"active model: {before}; loading {path} ...")
        stop = asyncio.Event()
        probe = asyncio.create_task(_probe(probe_client, stop))
        started = time.monotonic()
        try:
            async with aiohttp.ClientSession() as session, session.put(
                f"{url.rstrip('/')}/model", json={"model_file": str(path)},
                timeout=aiohttp.ClientTimeout(total=600),
            ) as resp:
                body = await resp.text()
                ok = resp.status == 204
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            ok, body = False, str(exc)
        swap_seconds = time.monotonic() - started
        stop.set()
        total, failed, slowest = await probe
        if not ok:
            print(f"activation failed: {body[:500]}", file=sys.stderr)
            return 1
        after = await probe_client.model_version()
        check = await probe_client.parse("你好")
        works = check.intent is not None and not (check.handoff and check.faq is None and check.intent is None)
    print(f"swapped in {swap_seconds:.1f} s: {before} -> {after}")
    print(f"parses during the swap: {total}, failed or timed out: {failed}, slowest {slowest:.2f} s")
    if failed:
        # Rasa loads the new model inside its event loop: it answers nothing until the model is
        # loaded (about 13 s here), so clients with a short timeout hand those messages off.
        print("warning: Rasa did not answer while loading the model; those messages became unclassified "
              "tickets. For a swap without that gap, start a second server with the new model, wait "
              "until it is ready, then point the gateway's NluClient.base_url at it (nlu/README.md).",
              file=sys.stderr)
    if after != path.name.removesuffix(".tar.gz") or not works:
        print("verification failed: the server does not serve the new model", file=sys.stderr)
        return 1
    print(f"verified: '你好' -> {check.intent}")
    return 0


async def _probe(client: NluClient, stop: asyncio.Event) -> tuple[int, int, float]:
    total = failed = 0
    slowest = 0.0
    while not stop.is_set():
        t0 = time.monotonic()
        result = await client.parse("我家楼下的路灯坏了一个星期了")
        elapsed = time.monotonic() - t0
        slowest = max(slowest, elapsed)
        total += 1
        failed += result.intent is None
        await asyncio.sleep(0.2)
    return total, failed, slowest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlu.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a model for the current data (cached by data hash)")
    p.add_argument("--force", action="store_true", help="train even if a model for this data exists")
    p.add_argument("--quiet", action="store_true", help="no epoch output")
    p = sub.add_parser("eval", help="evaluate on nlu/tests/heldout_*.yml")
    p.add_argument("--url", help="a running Rasa server (default: $RASA_URL, else a temporary one)")
    p.add_argument("--model", help="model to serve in the temporary server (default: current data)")
    p.add_argument("--json", dest="json_out", help="also write the metrics as JSON")
    p.add_argument("--verbose", action="store_true", help="list every misclassified message")
    p.add_argument("--no-compare", action="store_true", help="do not measure the model trained before for comparison")
    p.add_argument("--previous", help="compare with this model instead of the one trained before")
    p.add_argument("--dev", action="store_true", help="measure the dev split (nlu/dev/) to set thresholds instead")
    p = sub.add_parser("activate", help="hot-swap the model of a running Rasa server")
    p.add_argument("model", help="model path, file name in the cache, or data hash")
    p.add_argument("--url", help=f"Rasa server (default: $RASA_URL or {DEFAULT_RASA_URL})")
    args = parser.parse_args(argv)
    if args.command == "train":
        return cmd_train(force=args.force, progress=not args.quiet)
    if args.command == "eval":
        return cmd_eval(args)
    return cmd_activate(args.model, args.url)


if __name__ == "__main__":
    sys.exit(main())
