"""What the NLU benchmarks share: Rasa servers on the cached model, citizens' texts, and counting
what the pipeline classified (bench/intake_nlu.py, bench/wechat_nlu.py).

The texts are the held-out department messages (nlu/tests/heldout_departments.yml: real-looking,
of every length and department, never trained on), numbered so that no two of a run are identical:
the gateway's NLU client shares the parse of identical texts, and a benchmark must not profit.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import yaml

from bench.common import process_tree_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = ROOT / "nlu" / "tests" / "heldout_departments.yml"


def citizen_texts(n: int, tag: str = "") -> list[str]:
    """``n`` distinct texts: the held-out messages in turn, each with a number of its own."""
    examples = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["examples"]
    texts = [str(example["text"]) for example in examples]
    return [f"{texts[i % len(texts)]}（{tag}{i}）" for i in range(n)]


def cached_model() -> Path:
    """The model trained on the current data (the tests' cache), else the newest cached one."""
    from nlu import training

    model = training.find_model() or training.latest_model()
    if model is None:
        raise SystemExit("no NLU model in the cache: train one first (hotline nlu train)")
    return model


class RasaServers:
    """``count`` Rasa servers on the cached model (or the ``urls`` given, not started by us)."""

    def __init__(self, count: int = 1, urls: str | None = None, log_dir: Path | None = None) -> None:
        self.count = count
        self.given = urls
        self.log_dir = log_dir
        self.processes: list = []
        self.model: Path | None = None

    async def start(self) -> str:
        if self.given:
            return self.given
        from nlu.server import RasaProcess

        self.model = cached_model()
        for i in range(self.count):
            log = self.log_dir / f"rasa{i}.log" if self.log_dir else None
            self.processes.append(RasaProcess(self.model, log_path=log).start())
        await asyncio.gather(*(proc.wait_ready(timeout=600) for proc in self.processes))
        return self.url

    @property
    def url(self) -> str:
        return self.given or ",".join(proc.url for proc in self.processes)

    def cpu(self) -> float:
        """The servers' CPU seconds so far (0 for servers we did not start)."""
        return sum(process_tree_cpu_seconds(proc.process.pid) for proc in self.processes if proc.process)

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()


async def classified_counts(db_url: str) -> tuple[int, int]:
    """(tickets, tickets with a machine classification) in the bench's database."""
    conn = await asyncpg.connect(db_url)
    try:
        tickets = await conn.fetchval("SELECT count(*) FROM tickets")
        classified = await conn.fetchval("SELECT count(DISTINCT ticket_id) FROM predictions")
    finally:
        await conn.close()
    return int(tickets), int(classified)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f})"
