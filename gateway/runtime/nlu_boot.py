"""The NLU of ``hotline run`` comes up in the background while the gateway already serves.

The gateway answers as soon as the database is migrated. Meanwhile this task finds the model (the
one an admin activated, else the cached one of the repository's data), trains it when there is none
(``/healthz`` shows ``training (37 %)``), starts ``HOTLINE_NLU_PROCESSES`` Rasa servers on
consecutive ports from ``HOTLINE_RASA_PORT`` (``loading``) and, as each answers, hands its URL to
the NLU client and to the NLU administration (blue/green activation, the other processes follow it).
Until then every message becomes an unclassified ticket and the citizen still gets the receipt; the
worker's re-classification (gateway/worker/reclassify.py) classifies those tickets once Rasa is up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from config.settings import Settings
from connectors.task_stop import cancel_and_wait
from gateway.infra.resources import NLU
from gateway.web import audiences
from gateway.web.admin.state import STATE, ManagedRasa, active_model_path, publish_managed
from nlu import training
from nlu.server import NluStartup, RasaProcess

log = logging.getLogger(__name__)

PROCESSES_ENV = "HOTLINE_NLU_PROCESSES"
LOAD_TIMEOUT = 600.0  # seconds for Rasa to load a model on a busy machine (about 48 s on two idle cores)


class ProcessesSettingError(ValueError):
    pass


def nlu_processes() -> int:
    """$HOTLINE_NLU_PROCESSES, default one Rasa server per two cores (at most 4): a parse keeps one
    core busy, and the gateway, its worker and the database need the others."""
    raw = os.environ.get(PROCESSES_ENV, "").strip()
    if not raw:
        return max(1, min(4, (os.cpu_count() or 2) // 2))
    try:
        value = int(raw)
    except ValueError:
        raise ProcessesSettingError(f"{PROCESSES_ENV} must be a whole number of Rasa servers, not {raw!r}") from None
    if not 1 <= value <= 16:
        raise ProcessesSettingError(f"{PROCESSES_ENV} must be between 1 and 16, not {value}")
    return value


class NluBoot:
    """Brings the NLU up for one launcher; `startup` is what /healthz reports meanwhile."""

    def __init__(self, settings: Settings, *, port: int, processes: int = 1) -> None:
        self.settings = settings
        self.port = port
        self.processes = processes
        self.startup = NluStartup()
        self.servers: list[RasaProcess] = []
        self.model: Path | None = None

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    async def run(self, app: web.Application) -> None:
        try:
            self.model = await asyncio.to_thread(self._find_or_train)
            self.startup.phase, self.startup.fraction = "loading", 1.0
            await self._serve(app, self.model)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the gateway keeps serving; /healthz says why
            self.startup.phase, self.startup.detail = "down", f"{type(exc).__name__}: {exc}"[:500]
            log.error("the NLU did not come up (messages stay unclassified): %s", self.startup.detail)
            print(f"[nlu] 智能分类未能启动，来件将作为未分类工单由坐席处理：{str(exc)[:300]}", file=sys.stderr, flush=True)

    def _find_or_train(self) -> Path:
        # The model an admin activated last (registry), else the one of the repository's data.
        model = active_model_path(self.settings.effective_database_url) or training.find_model()
        if model is not None:
            return model
        self.startup.phase = "training"
        print("[nlu] no model for the current training data: training in the background; the gateway already "
              "serves (messages meanwhile become unclassified tickets, classified when the model is ready)",
              file=sys.stderr, flush=True)
        return training.ensure_model(progress=True, on_progress=self._progress)

    def _progress(self, fraction: float) -> None:
        self.startup.fraction = fraction

    async def _serve(self, app: web.Application, model: Path) -> None:
        log_path = Path(self.settings.data_dir) / "nlu-rasa.log"
        # A process group of their own (not the terminal's: Ctrl-C reaches the launcher, which stops them).
        first = RasaProcess(model, port=self.port, log_path=log_path, process_group=0).start()
        assert first.process is not None
        self.servers = [first]
        try:
            for offset in range(1, self.processes):
                self.servers.append(RasaProcess(model, port=self.port + offset, log_path=log_path,
                                                process_group=first.process.pid).start())
        except OSError:
            await asyncio.to_thread(self.stop)
            raise
        log.info("starting %d NLU server(s) on %s with %s (log: %s)", len(self.servers), ", ".join(self.urls),
                 model.name, log_path)
        ready: list[str] = []
        pending = {asyncio.ensure_future(server.wait_ready(timeout=LOAD_TIMEOUT)): server for server in self.servers}
        try:
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    server = pending.pop(task)
                    if task.exception() is not None:
                        log.warning("NLU server %s did not start: %s", server.url, task.exception())
                        continue
                    ready.append(server.url)
                    await self._hand_over(app, model, ready)
        finally:
            for task in pending:
                task.cancel()
        if not ready:
            raise RuntimeError(f"no Rasa server started (log: {log_path})")
        print(f"[nlu] 智能分类已就绪：{len(ready)} 个 Rasa 进程（{', '.join(ready)}），模型 {model.name}",
              file=sys.stderr, flush=True)

    async def _hand_over(self, app: web.Application, model: Path, ready: list[str]) -> None:
        """Serve from the servers ready so far: this process's client, and the NLU administration,
        which publishes them to the other gateway processes and runs blue/green activation."""
        first = self.servers[0]
        managed = ManagedRasa(url=",".join(ready), model_path=model, process=first.process)
        admin = audiences.sub_app(app, audiences.ADMIN)
        admin[STATE].managed = managed
        app[NLU].base_url = managed.url
        await app[NLU].model_version()
        self.startup.phase = "ok"
        try:
            await publish_managed(audiences.chain(admin, app), managed)
        except Exception as exc:  # noqa: BLE001 - Redis down now: the follower publishes it on its next tick
            log.warning("NLU: could not publish the managed server yet: %s", exc)

    def stop(self) -> None:
        training.stop_trainings()
        if self.servers:
            self.servers[0].stop()  # the group leader: SIGTERM reaches every server of the group
            for server in self.servers[1:]:
                if server.process is not None and server.process.poll() is None:
                    server.process.terminate()
                    server.process.wait(15)


def nlu_boot_ctx(boot: NluBoot) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the NLU comes up in the background while the app serves; stopped with it."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(boot.run(app), name="nlu-boot")
        yield
        task.cancel()
        await asyncio.to_thread(boot.stop)
        await cancel_and_wait([task])

    return ctx
