"""The training job: `rasa train nlu` on an export of the working copy, in the background.

One at a time across every gateway process: a Redis lock (redis-py's `Lock`) that the running job
extends every few seconds; a crashed process's lock expires after TRAIN_LOCK_TTL. The job row carries the
live progress (the pipeline's components as Rasa logs each one trained: nlu.training.TrainingProgress), the tail of the log, and
a clear failure reason. Cancel: a Redis flag any process can set; the runner kills Rasa's process
group. The model goes to the model cache as nlu-<data hash>.tar.gz: training the same working copy
again reuses it (no retraining). Then the model is evaluated (evaluation.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from gateway.infra.replies import REPLIES
from gateway.infra.resources import NLU, REDIS, SESSIONS, SETTINGS
from gateway.web.admin import active_evaluation, evaluation
from gateway.web.admin.job_view import JOB_EVENT, job_dict, job_state
from gateway.web.admin.state import STATE, TRAIN_LOCK_TTL, NluAdminKeys
from gateway.web.admin.workspace import export_files, export_labels, write_project
from gateway.web.audiences import Config
from gateway.web.errors import ApiError
from nlu import training
from ticketing.nlu_workspace import jobs, registry

log = logging.getLogger(__name__)

LOG_LINES = 300
FLUSH_EVERY = 1.0
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class LogTail:
    """The last lines of a stream with carriage returns (tqdm redraws its bar in place)."""

    def __init__(self, limit: int = LOG_LINES) -> None:
        self.lines: list[str] = []
        self.limit = limit
        self._partial = ""
        self._overwrite = False

    def feed(self, chunk: str) -> None:
        chunk = _ANSI.sub("", chunk)
        for piece in re.split(r"(\r|\n)", chunk):
            if piece == "\n":
                self._commit()
                self._overwrite = False
            elif piece == "\r":
                self._commit()
                self._overwrite = True
            else:
                self._partial += piece

    def _commit(self) -> None:
        if not self._partial:
            return
        if self._overwrite and self.lines:
            self.lines[-1] = self._partial
        else:
            self.lines.append(self._partial)
        self._partial = ""
        del self.lines[:-self.limit]

    def text(self) -> str:
        return "\n".join(self.lines + ([self._partial] if self._partial else []))


def failure_reason(text: str, returncode: int | None) -> str:
    """The line that says why Rasa failed (its exception), else the exit code."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.search(r"(Error|Exception|Invalid|error:)", line) and not line.startswith("File "):
            return line[:500]
    return f"rasa train nlu 退出码 {returncode}" + (f"：{lines[-1][:300]}" if lines else "")


def training_lock(config: Config) -> Lock:
    """The one-training-at-a-time lock (the same key in every process)."""
    return Lock(config[REDIS], NluAdminKeys.of(config).train_lock, timeout=TRAIN_LOCK_TTL, blocking=False,
                thread_local=False)


async def start_training(config: Config, actor: str, epochs: int | None = None) -> int:
    """Take the lock, create the job row, run it in the background; returns the job id."""
    if epochs is None:
        epochs = training.epochs_setting()
    lock = training_lock(config)
    if not await lock.acquire():
        raise ApiError(409, "training_running", "已有训练任务在运行，请等待其完成或取消后再试")
    try:
        async with config[SESSIONS]() as session, session.begin():
            job = await jobs.create_job(session, actor=actor, epochs=epochs)
            job_id = job.id
    except Exception:
        await lock.release()
        raise
    config[STATE].spawn(_run(config, job_id, lock, actor, epochs), name=f"nlu-train-{job_id}")
    return job_id


async def running_job_id(config: Config) -> int | None:
    """The job holding the lock: the newest job still running (older ones are orphans, see below)."""
    if not await training_lock(config).locked():
        return None
    async with config[SESSIONS]() as session:
        return next((job.id for job in await jobs.jobs(session, limit=5) if job.status == "running"), None)


async def cancel(config: Config, job_id: int) -> None:
    await config[REDIS].set(NluAdminKeys.of(config).job_cancel(job_id), b"1", ex=3600)


async def reap_orphans(config: Config) -> None:
    """A job left 'running' by a process that died: its lock expired, mark it failed."""
    current = await running_job_id(config)
    async with config[SESSIONS]() as session, session.begin():
        for job in await jobs.jobs(session, limit=5):
            if job.status == "running" and job.id != current:
                age = time.time() - job.created_at.timestamp()
                if age > TRAIN_LOCK_TTL:
                    await jobs.update_job(session, job.id, status="failed", phase="中断",
                                        error="训练进程意外退出（网关重启或崩溃），请重新训练")


async def _update(config: Config, job_id: int, **changes) -> None:
    async with config[SESSIONS]() as session, session.begin():
        job = await jobs.update_job(session, job_id, **changes)
        state = await job_state(session, job)
    await publish_job(config, state)


async def publish_job(config: Config, state: dict) -> None:
    """After the commit: every admin's training page shows the new state at once. Best effort (the
    page also reads the job when the stream drops): a failure that is Redis itself must still be
    recorded, so a publishing error never fails the job."""
    try:
        await config[REPLIES].publish_event(NluAdminKeys.of(config).jobs_topic, {"type": JOB_EVENT, **state})
    except (RedisError, OSError) as exc:
        log.warning("could not publish training job %s: %s", state.get("id"), exc)


async def _run(config: Config, job_id: int, lock: Lock, actor: str, epochs: int | None) -> None:
    stop_renew = asyncio.Event()

    async def renew() -> None:
        while not stop_renew.is_set():
            try:
                await lock.extend(TRAIN_LOCK_TTL, replace_ttl=True)
            except (LockError, RedisError, OSError) as exc:
                log.warning("training lock renewal failed: %s", exc)
            try:
                await asyncio.wait_for(stop_renew.wait(), TRAIN_LOCK_TTL / 4)
            except TimeoutError:
                pass

    renewer = asyncio.create_task(renew())
    tail = LogTail()
    try:
        await _train_and_evaluate(config, job_id, actor, epochs, tail)
    except asyncio.CancelledError:
        await asyncio.shield(_update(config, job_id, status="cancelled", phase="已取消", log=tail.text(),
                                     error="网关停止，训练已中止"))
        raise
    except Exception as exc:
        log.exception("training job %s failed", job_id)
        await _update(config, job_id, status="failed", phase="失败", log=tail.text(), error=str(exc)[:2000])
    finally:
        stop_renew.set()
        await asyncio.gather(renewer, return_exceptions=True)
        with contextlib.suppress(LockError, RedisError, OSError):  # expired or taken over: nothing to free
            await lock.release()
        with contextlib.suppress(RedisError, OSError):
            await config[REDIS].delete(NluAdminKeys.of(config).job_cancel(job_id))


class _Cancelled(Exception):
    pass


async def _train_and_evaluate(config: Config, job_id: int, actor: str, epochs: int | None,
                              tail: LogTail) -> None:
    redis, keys = config[REDIS], NluAdminKeys.of(config)
    cache = training.model_cache_dir()
    async with config[SESSIONS]() as session:
        files = await export_files(session)
        labels = await export_labels(session)
        answers = dict(config[NLU].answers)
    with tempfile.TemporaryDirectory(prefix="admin-train-", dir=cache) as tmp:
        root = Path(tmp)
        nlu_dir, hash_ = write_project(root / "project", files, epochs, labels)
        name = training.model_name(hash_)
        target = cache / f"{name}.tar.gz"
        rasa_config = (nlu_dir / "config.yml").read_text(encoding="utf-8")
        await _update(config, job_id, data_hash=hash_, phase="训练中", progress=0.0)
        started = time.monotonic()
        seconds: float | None = None
        if target.exists():
            tail.feed(f"训练数据（哈希 {hash_}）的模型已在缓存中：{target.name}，无需重新训练\n")
            await _update(config, job_id, progress=1.0, log=tail.text())
            seconds = (training.training_info(target) or {}).get("train_seconds")
        else:
            out = root / "out"
            cmd = training.train_command(nlu_dir, out, name)
            tail.feed(f"$ {' '.join(cmd[1:])}\n")
            proc = await asyncio.create_subprocess_exec(
                *cmd, cwd=root / "project", env=training.rasa_env(), stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
            )
            progress = training.TrainingProgress(training.config_components(rasa_config))
            fraction = 0.0
            last_flush = 0.0
            cancelled = False
            try:
                assert proc.stdout is not None
                while True:
                    try:
                        chunk = await asyncio.wait_for(proc.stdout.read(8192), timeout=1.0)
                    except TimeoutError:
                        chunk = None
                    if chunk == b"":
                        break
                    if chunk:
                        text = chunk.decode("utf-8", errors="replace")
                        tail.feed(text)
                        fraction = progress.feed(text) or fraction
                    if await redis.get(keys.job_cancel(job_id)):
                        cancelled = True
                        await _terminate(proc)
                        break
                    if time.monotonic() - last_flush > FLUSH_EVERY:
                        last_flush = time.monotonic()
                        await _update(config, job_id, progress=round(fraction, 4), log=tail.text())
                await proc.wait()
            finally:
                if proc.returncode is None:
                    await asyncio.shield(_terminate(proc))
            if cancelled:
                tail.feed("\n训练已被管理员取消\n")
                await _update(config, job_id, status="cancelled", phase="已取消", log=tail.text(),
                              error="管理员取消了训练")
                return
            produced = list(out.glob("*.tar.gz")) if out.exists() else []
            if proc.returncode != 0 or not produced:
                reason = failure_reason(tail.text(), proc.returncode)
                await _update(config, job_id, status="failed", phase="训练失败", log=tail.text(), error=reason)
                return
            seconds = round(time.monotonic() - started, 1)
            shutil.move(str(produced[0]), target)
            training.write_training_info(target, hash_, seconds, epochs=epochs, trained_by=actor)
        async with config[SESSIONS]() as session, session.begin():
            model = await registry.register_model(session, name=name, data_hash=hash_, path=str(target), trained_by=actor,
                                            epochs=epochs or (training.config_epochs(rasa_config) or [None])[0],
                                            train_seconds=seconds)
            version = model.version
            job = await jobs.update_job(session, job_id, model_id=model.id, progress=1.0, phase="评估中",
                                        log=tail.text())
            state = job_dict(job, model_version=version)
        await publish_job(config, state)
    tail.feed(f"模型 v{version}（{name}）训练完成{f'，用时 {seconds:.0f} 秒' if seconds else ''}；开始在留出集上评估\n")
    await _update(config, job_id, log=tail.text())
    try:
        metrics = await evaluation.evaluate_model(target, answers,
                                                  log_path=Path(config[SETTINGS].data_dir) / "nlu-eval-rasa.log")
    except Exception as exc:
        async with config[SESSIONS]() as session, session.begin():
            await registry.set_metrics(session, version, None, failed=f"评估失败：{exc}")
            job = await jobs.update_job(session, job_id, status="failed", phase="评估失败", log=tail.text(),
                                        error=f"模型已训练（v{version}），但评估失败：{exc}")
            state = job_dict(job, model_version=version)
        await publish_job(config, state)
        return
    # the comparison needs the active model's figures (a start-up run may be measuring them now)
    await active_evaluation.evaluate_active(config, wait=300)
    tail.feed(f"评估完成：部门 top-1 {_pct(metrics.get('department_top1'))}，紧急召回 {_pct(metrics.get('emergency_recall'))}\n")
    async with config[SESSIONS]() as session, session.begin():
        await registry.set_metrics(session, version, metrics)
        job = await jobs.update_job(session, job_id, status="succeeded", phase="完成", log=tail.text())
        state = job_dict(job, model_version=version)
    await publish_job(config, state)


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    """End Rasa's whole process group (it was started in its own session)."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            await asyncio.wait_for(proc.wait(), wait)
            return
        except TimeoutError:
            continue
