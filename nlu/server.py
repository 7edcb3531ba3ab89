"""Run the Rasa server: the command line, readiness, and a small process wrapper for tools and tests.

The gateway's launcher builds its own child process from `rasa_command()`; `RasaProcess` is for the
evaluation command, the benchmark and the test suite (a temporary server on a free port).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from nlu.training import REPO_ROOT, rasa_bin, rasa_env


@dataclass
class NluStartup:
    """Where the NLU of `hotline run` is on its way up, for /healthz: training (with the fraction of its
    epochs done), loading (Rasa starting with the model), ok, or down (with why)."""

    phase: str = "loading"  # training | loading | ok | down
    fraction: float = 0.0
    detail: str | None = None

    @property
    def starting(self) -> bool:
        return self.phase in ("training", "loading")

    def describe(self) -> str:
        if self.phase == "training":
            return f"training ({int(self.fraction * 100)} %)"
        return self.phase


CREDENTIALS = Path(__file__).with_name("credentials.yml")


def rasa_command(model_path: str | Path, host: str = "127.0.0.1", port: int = 5005) -> list[str]:
    """`rasa run --enable-api` serving one model (no CORS: only the gateway calls it), with the
    batch parse route of nlu/rasa_batch.py as its one input channel."""
    return [
        rasa_bin(), "run",
        "--enable-api",
        "--credentials", str(CREDENTIALS),
        "-m", str(model_path),
        "-i", host,
        "-p", str(port),
    ]  # fmt: skip


async def wait_ready(base_url: str, timeout: float = 120.0, *, process: subprocess.Popen | None = None) -> str:
    """Wait until Rasa serves a model (`GET /status` names one); return the model file name.

    Rasa answers 409 while no model is loaded; loading takes about 15 s on two cores. Raises
    TimeoutError after `timeout`, RuntimeError at once if `process` has exited.
    """
    deadline = time.monotonic() + timeout
    url = base_url.rstrip("/") + "/status"
    async with aiohttp.ClientSession() as session:
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"Rasa exited with code {process.returncode} before it was ready")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    if resp.status == 200:
                        data = await resp.json(content_type=None)
                        if data.get("model_file"):
                            return str(data["model_file"])
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"Rasa at {base_url} not ready after {timeout:.0f} s")
            await asyncio.sleep(0.5)


def serving_env() -> dict[str, str]:
    """rasa_env() for a server: TensorFlow on one thread per pool. Today's pipeline runs no TensorFlow
    in a parse; a model of an earlier configuration does (the ResponseSelector's small graph on one
    message), and TensorFlow's thread pools then cost more in hand-overs than they gain
    (bench/nlu_parse.py, in-process: ResponseSelector 4.6 -> 3.6 ms p50, whole parse 7.9 -> 6.2 ms p50
    on the shared two-core machine). More cores are used by more servers (HOTLINE_NLU_PROCESSES).
    Training keeps TensorFlow's defaults; the environment may still set other values."""
    env = rasa_env()
    env.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
    env.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "1")
    return env


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class RasaProcess:
    """A Rasa server child process on a free local port.

    Usage: `proc = RasaProcess(model).start(); await proc.wait_ready(); ...; proc.stop()`.
    The output goes to `log_path` (a file), never to a pipe nobody reads (a full pipe would block Rasa).
    """

    def __init__(self, model_path: str | Path, *, host: str = "127.0.0.1", port: int | None = None,
                 log_path: str | Path | None = None, process_group: int | None = None) -> None:
        self.model_path = Path(model_path)
        # Several servers of one launcher share one process group (0: a new one, led by this server; it
        # stays in our session, as the group of a sibling must): one signal stops them all.
        self.process_group = process_group
        self.host = host
        self.port = port or free_port(host)
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen | None = None
        self.load_seconds: float | None = None
        self._started = 0.0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> RasaProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._started = time.monotonic()
        self.process = subprocess.Popen(
            rasa_command(self.model_path, self.host, self.port),
            env=serving_env(),
            cwd=REPO_ROOT,  # Rasa puts its working directory on sys.path: nlu.rasa_components
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own process group (or its siblings'): stop() ends Rasa and nothing else.
            **({"start_new_session": True} if self.process_group is None else {"process_group": self.process_group}),
        )
        if out is not subprocess.DEVNULL:
            out.close()
        return self

    async def wait_ready(self, timeout: float = 180.0) -> str:
        model = await wait_ready(self.url, timeout, process=self.process)
        self.load_seconds = time.monotonic() - self._started
        return model

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass
