"""A very short fault campaign: the whole machinery (own PostgreSQL and Redis, web + 2 worker processes,
a kill -9, the drain, the tally) runs, counts every message and leaves no process or directory behind."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from glob import glob
from pathlib import Path

import pytest

from bench.faults import campaign, format_table

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not glob("/usr/lib/postgresql/*/bin/initdb") or not shutil.which("redis-server"),
                       reason="needs PostgreSQL's server binaries and redis-server"),
]


def _pids_of_children(root: Path) -> list[str]:
    """Processes whose command line names the campaign's temporary directory (its servers)."""
    found = []
    for cmdline in glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as file:
                if str(root).encode() in file.read():
                    found.append(cmdline.split("/")[2])
        except OSError:
            continue
    return found


def test_a_short_campaign_counts_every_message_and_cleans_up() -> None:
    args = argparse.Namespace(seconds=4.0, rate=10.0, outage=1.0, drain_timeout=120.0,
                              scenarios=["baseline", "workers"], logs=None)
    root = Path(tempfile.mkdtemp(prefix="hotline-faults-test-"))
    try:
        rows = asyncio.run(campaign(args, root))
        assert not _pids_of_children(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    assert [row.name for row in rows] == ["baseline", "workers"]
    for row in rows:
        assert row.outcomes.sent == 40
        # Killing the workers does not touch intake: every message is acknowledged and then stored once.
        assert row.outcomes.statuses[202] == 40
        assert row.tally.lost(row.outcomes.accepted) == 0
        assert row.tally.duplicated() == 0
        assert sum(row.tally.stored.values()) == 40
        assert row.drain is not None
        assert row.web_cpu > 0
    table = format_table(rows, args, args.drain_timeout)
    assert "kill -9 both workers, restart" in table and "1.00" in table
