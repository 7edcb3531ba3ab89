"""The benchmarks' CPU accounting reads the services' processes from /proc."""

from __future__ import annotations

import os
import time

from bench.common import command_cpu_seconds, process_cpu_seconds


def _own_command() -> str:
    with open("/proc/self/comm", encoding="ascii", errors="replace") as comm:
        return comm.read().strip()


def test_a_command_s_cpu_counts_its_running_processes() -> None:
    before_all, before_self = command_cpu_seconds(_own_command()), process_cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of this process's CPU
        pass
    gained_all = command_cpu_seconds(_own_command()) - before_all
    gained_self = process_cpu_seconds(os.getpid()) - before_self
    # Every process of the command counts, this one among them (/proc counts in clock ticks).
    assert gained_self >= 0.25
    assert gained_all >= gained_self - 0.02


def test_a_command_that_does_not_run_costs_nothing() -> None:
    assert command_cpu_seconds("no-such-service-here") == 0.0
