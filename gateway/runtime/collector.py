"""The cyclic garbage collector's settings for the long-running processes (web, worker, mailbox, feed).

Almost everything these processes allocate is freed by reference counting; the cyclic collector
only has to find the rare cycle. With CPython's defaults (700, 10, 10) it ran about a thousand
times in a benchmark of 4,500 messages and, every hundred of those, walked the whole heap: the
imported libraries, the duplicate index of every open ticket (ticketing/duplicates/live.py), the
ORM's metadata. In the worker that was about 30 % of its CPU (1.3 CPU-s of about 4.1,
bench/intake_nlu.py, measured with gc.callbacks), spent in whatever line allocated next.

So: what exists once the process has started is frozen (never walked again), and the young
generation is collected every 50,000 net allocations instead of 700 — cycles are still found, a
little later, and the memory they hold meanwhile is bounded by that count. Measured in the same
benchmark: 0.27 CPU-s of collection instead of 1.3, worker 0.91 -> 0.75 CPU-ms per message.
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 100)


def tune_for_service() -> None:
    """Call once, after the imports and the application object are built, before serving."""
    gc.collect()  # what start-up left behind is garbage, not to be frozen
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
