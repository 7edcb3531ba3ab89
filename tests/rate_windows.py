"""Tests that count requests up to a fixed-window rate limit (gateway/infra/ratelimit.py) start in a
fresh window: a window turning during the count starts it again and the limit is never reached (the CI
run of 1 December and a rehearsal of 2 December met it)."""

from __future__ import annotations

import asyncio
import time

WINDOW_SECONDS = 60


async def begin_in_a_fresh_window(margin: float = 15.0, window: int = WINDOW_SECONDS) -> None:
    """Wait for the next window when fewer than ``margin`` seconds are left of this one."""
    left = window - time.time() % window
    if left < margin:
        await asyncio.sleep(left + 0.2)
