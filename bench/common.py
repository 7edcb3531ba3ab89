"""What the benchmarks share: the local servers they use and small statistics."""

from __future__ import annotations

import os

import asyncpg

PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of the values."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def fresh_database(name: str) -> tuple[str, str]:
    """Drop and create a database of the bench's own; returns its asyncpg and SQLAlchemy URLs."""
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{name}", base.replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
