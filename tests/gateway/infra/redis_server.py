"""A throw-away redis-server on a free port, which a test may restart (never the shared 6379)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, workdir: Path, *, appendonly: bool = False) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.appendonly = appendonly
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def redis_server_fixture(*, appendonly: bool = False):
    @pytest.fixture
    def server(tmp_path: Path) -> Iterator[RedisServer]:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        instance = RedisServer(tmp_path, appendonly=appendonly)
        instance.start()
        try:
            yield instance
        finally:
            instance.stop()

    return server
