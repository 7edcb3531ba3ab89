"""``hotline run``: the whole system in one launcher on embedded defaults.

Starts the embedded Redis (unless REDIS_URL), migrates the database and serves the gateway with its
worker at once. The NLU comes up in the background (gateway/runtime/nlu_boot.py): a model is trained
if none matches the data, then ``HOTLINE_NLU_PROCESSES`` ``rasa run`` children start (unless RASA_URL,
or no Rasa virtualenv); /healthz shows where it is. Ctrl-C stops every child.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from gateway.infra.redis_client import EmbeddedRedis
from gateway.runtime.assembly import create_app
from gateway.runtime.bootstrap import first_admin_hint
from gateway.runtime.collector import WEB_THRESHOLDS, tune_for_service
from gateway.runtime.nlu_boot import NluBoot, ProcessesSettingError, nlu_boot_ctx, nlu_processes
from gateway.web.health import NLU_STARTUP
from ticketing.db.migrate import upgrade

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
RASA_PORT = int(os.environ.get("HOTLINE_RASA_PORT", "5005"))


def rasa_available() -> bool:
    return Path(os.environ.get("HOTLINE_RASA_BIN", REPO / ".venv-rasa" / "bin" / "rasa")).exists()


def launch(settings: Settings, *, start_rasa: bool = True) -> int:
    try:
        processes = nlu_processes()
    except ProcessesSettingError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    embedded = None
    boot = None
    try:
        redis_url = settings.redis_url
        if not redis_url:
            embedded = EmbeddedRedis(settings.embedded_redis_path)
            redis_url = embedded.url
        upgrade(settings.effective_database_url)
        log.info("database ready: %s", settings.effective_database_url.split("@")[-1])
        app = create_app(settings, redis_url=redis_url, services={"worker", "feed", "smtp"})
        if settings.rasa_url is None and start_rasa and settings.nlu_enabled and rasa_available():
            # Serve now; the NLU trains/loads in the background and joins when it answers.
            boot = NluBoot(settings, port=RASA_PORT, processes=processes)
            app[NLU_STARTUP] = boot.startup
            app.cleanup_ctx.append(nlu_boot_ctx(boot))
        elif settings.rasa_url is None:
            log.warning("no NLU server (set RASA_URL or create .venv-rasa): every message goes to the operators")
        print(f"\n  12345 intake gateway: http://{settings.http_host}:{settings.http_port}/\n"
              "  Ctrl-C stops everything.\n", flush=True)
        if (hint := first_admin_hint(settings.effective_database_url)) is not None:
            print(hint, flush=True)
        tune_for_service(WEB_THRESHOLDS)  # one process answers citizens here: the web's settings
        web.run_app(app, host=settings.http_host, port=settings.http_port, access_log=None,
                    print=lambda s: None)
    except KeyboardInterrupt:
        pass
    finally:
        if boot is not None:
            log.info("stopping the NLU server")
            boot.stop()
        if embedded is not None:
            embedded.shutdown()
    return 0
