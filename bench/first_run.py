"""First run: seconds from `make run` in a fresh clone to the first 202, and to the first classified ticket.

Two starts of the same clone, measured from the moment `make run` is spawned:

  first    a new clone (no .venv, no var/), an empty NLU model cache: the virtualenv is created,
           the database migrated, the gateway serves, and the model trains in the background
  later    `make run` again in that clone: virtualenvs and model there, Rasa loads the cached model

For each: the first HTTP 202 of `POST /api/v1/web/messages` (sent every half second from the start),
the moment /healthz says `nlu: ok`, and the moment the ticket of that first message is classified
(by the late re-classification when it arrived before the NLU). The baseline, measured in the same
start, is when the NLU answered: the previous launcher served its first 202 only after that, so the
ratio first-202 / NLU-ready is what serving at once gains. CPU seconds of the whole `make run` tree
(rusage of the children) and the load average are printed beside them, since the machine is shared.

    .venv/bin/python -m bench.first_run [--rasa-venv PATH] [--reuse-model] [--processes N] [--timeout S]

--rasa-venv links an existing Rasa virtualenv into the clone instead of installing Rasa and TensorFlow
again (say so beside the figures); --reuse-model keeps the normal model cache (no training: measures a
fresh clone on a machine that has trained before). pip's cache is whatever the machine has.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEXT = "卫东区建设路的路灯坏了一个星期了，晚上一片漆黑，请尽快修一下"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Start:
    name: str
    first_202: float | None = None
    nlu_ok: float | None = None
    classified: float | None = None
    cpu_seconds: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    training_seen: bool = False


def _post(url: str, payload: dict) -> int | None:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return json.loads(exc.read())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


def _classified(db: Path, session_id: str) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            row = conn.execute(
                "SELECT t.classification FROM tickets t JOIN conversations c ON c.id = t.conversation_id "
                "WHERE c.sender_id = ? ORDER BY t.id LIMIT 1", (session_id,)).fetchone()
    except sqlite3.Error:
        return False
    return bool(row) and row[0] == "predicted"


def measure_start(name: str, clone: Path, env: dict[str, str], timeout: float, log: Path) -> Start:
    http = int(env["HOTLINE_HTTP_PORT"])
    base = f"http://127.0.0.1:{http}"
    session_id = f"bench-{name}-{os.getpid()}-{int(time.time())}"
    result = Start(name, load_before=os.getloadavg())
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = open(log, "ab")  # noqa: SIM115 - closed below; a pipe nobody reads could block make
    started = time.monotonic()
    proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        while time.monotonic() - started < timeout and proc.poll() is None:
            now = time.monotonic() - started
            if result.first_202 is None:
                if _post(base + "/api/v1/web/messages",
                         {"session_id": session_id, "text": TEXT}) == 202:
                    result.first_202 = now
                    print(f"  [{name}] first 202 after {now:.1f} s", flush=True)
            else:
                health = _health(base) or {}
                state = str(health.get("nlu", ""))
                result.training_seen = result.training_seen or state.startswith("training")
                if result.nlu_ok is None and state == "ok":
                    result.nlu_ok = now
                    print(f"  [{name}] NLU ready after {now:.1f} s", flush=True)
                if result.classified is None and _classified(clone / "var" / "hotline.sqlite3", session_id):
                    result.classified = now
                    print(f"  [{name}] first classified ticket after {now:.1f} s", flush=True)
                if result.nlu_ok is not None and result.classified is not None:
                    break
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as in a terminal
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.close()
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    result.load_after = os.getloadavg()
    return result


def report(start: Start) -> None:
    def fmt(value: float | None) -> str:
        return f"{value:7.1f} s" if value is not None else "    n/a  "

    ratio = (f"{start.first_202 / start.nlu_ok:.3f}×" if start.first_202 is not None and start.nlu_ok else "n/a")
    print(f"{start.name:<6} first 202 {fmt(start.first_202)} | first classified ticket {fmt(start.classified)} | "
          f"baseline NLU ready {fmt(start.nlu_ok)} (first 202 / NLU ready = {ratio}) | trained: "
          f"{'yes' if start.training_seen else 'no'} | CPU {start.cpu_seconds:.0f} s | load "
          f"{start.load_before[0]:.1f} → {start.load_after[0]:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rasa-venv", help="link this Rasa virtualenv into the clone instead of installing one")
    parser.add_argument("--reuse-model", action="store_true", help="keep the machine's model cache (no training)")
    parser.add_argument("--processes", type=int, default=1, help="HOTLINE_NLU_PROCESSES (default 1)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per start")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="hotline-first-run-"))
    clone = work / "hotline"
    branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--branch", branch, str(REPO), str(clone)], check=True)
    if args.rasa_venv:
        (clone / ".venv-rasa").symlink_to(Path(args.rasa_venv).resolve())
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "RASA_URL", "VIRTUAL_ENV", "HOTLINE_DATA_DIR")}
    env.update(HOTLINE_HTTP_PORT=str(free_port()), HOTLINE_SMTP_PORT=str(free_port()),
               HOTLINE_RASA_PORT=str(free_port()), HOTLINE_NLU_PROCESSES=str(args.processes))
    if not args.reuse_model:
        env["HOTLINE_NLU_MODEL_DIR"] = str(work / "models")
    log = work / "make-run.log"
    print(f"clone {clone} (branch {branch}); log {log}; Rasa virtualenv "
          f"{'linked from ' + args.rasa_venv if args.rasa_venv else 'installed by make'}; model cache "
          f"{'the machine’s' if args.reuse_model else 'empty (trains)'}; {os.cpu_count()} cores", flush=True)
    results = [measure_start("first", clone, env, args.timeout, log),
               measure_start("later", clone, env, args.timeout, log)]
    print()
    for start in results:
        report(start)
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
