"""``hotline run``: the whole system in one launcher on embedded defaults.

Starts the embedded Redis (unless REDIS_URL), migrates the database, trains an NLU model
if none matches the data and starts ``rasa run`` as a child (unless RASA_URL, or no Rasa
virtualenv), then serves the gateway with its worker.  Ctrl-C stops every child.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from gateway.infra.redis_client import EmbeddedRedis
from gateway.runtime.assembly import create_app
from gateway.runtime.bootstrap import first_admin_hint
from gateway.web.admin.state import RASA_MANAGED
from ticketing.db.migrate import upgrade

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
RASA_PORT = int(os.environ.get("HOTLINE_RASA_PORT", "5005"))


def rasa_available() -> bool:
    return Path(os.environ.get("HOTLINE_RASA_BIN", REPO / ".venv-rasa" / "bin" / "rasa")).exists()


def start_rasa_server(database_url: str | None = None) -> tuple[subprocess.Popen, str, Path]:
    from gateway.web.admin.state import active_model_path
    from nlu import server, training

    # The model an admin activated last (registry), else the one of the repository's data.
    model = (active_model_path(database_url) if database_url else None) or training.ensure_model(progress=True)
    cmd = server.rasa_command(model, host="127.0.0.1", port=RASA_PORT)
    log.info("starting the NLU server: %s", " ".join(map(str, cmd)))
    # Own process group: Ctrl-C reaches us once, and we stop Rasa ourselves, in order.
    # rasa_env: no telemetry (no network here), the repository importable for the custom components.
    proc = subprocess.Popen(cmd, cwd=REPO, env=training.rasa_env(), start_new_session=True)
    url = f"http://127.0.0.1:{RASA_PORT}"
    try:
        asyncio.run(server.wait_ready(url, timeout=300))
    except Exception:
        stop_child(proc)
        raise
    return proc, url, model


def stop_child(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def launch(settings: Settings, *, start_rasa: bool = True) -> int:
    embedded = None
    rasa_proc = None
    try:
        redis_url = settings.redis_url
        if not redis_url:
            embedded = EmbeddedRedis(settings.embedded_redis_path)
            redis_url = embedded.url
        upgrade(settings.effective_database_url)
        log.info("database ready: %s", settings.effective_database_url.split("@")[-1])
        if settings.rasa_url is None and start_rasa and settings.nlu_enabled and rasa_available():
            rasa_proc, rasa_url, rasa_model = start_rasa_server(settings.effective_database_url)
            settings = settings.model_copy(update={"rasa_url": rasa_url})
        elif settings.rasa_url is None:
            log.warning("no NLU server (set RASA_URL or create .venv-rasa): every message goes to the operators")
        app = create_app(settings, redis_url=redis_url, services={"worker", "feed", "smtp"})
        if rasa_proc is not None:
            # This process owns the NLU server: model activation runs blue/green (gateway/web/admin).
            from gateway.web.admin import ManagedRasa

            app[RASA_MANAGED] = ManagedRasa(url=rasa_url, model_path=rasa_model, process=rasa_proc)
        print(f"\n  12345 intake gateway: http://{settings.http_host}:{settings.http_port}/\n"
              "  Ctrl-C stops everything.\n", flush=True)
        if (hint := first_admin_hint(settings.effective_database_url)) is not None:
            print(hint, flush=True)
        web.run_app(app, host=settings.http_host, port=settings.http_port, access_log=None,
                    print=lambda s: None)
    except KeyboardInterrupt:
        pass
    finally:
        if rasa_proc is not None:
            log.info("stopping the NLU server")
            stop_child(rasa_proc)
        if embedded is not None:
            embedded.shutdown()
    return 0


