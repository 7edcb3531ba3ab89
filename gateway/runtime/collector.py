"""The cyclic garbage collector's settings for the long-running processes (web, worker, mailbox, feed).

Almost everything these processes allocate is freed by reference counting; the cyclic collector
only has to find the rare cycle. With CPython's defaults (700, 10, 10) it ran about a thousand
times in a benchmark of 4,500 messages and, every hundred of those, walked the whole heap: the
imported libraries, the duplicate index of every open ticket (ticketing/duplicates/live.py), the
ORM's metadata. In the worker that was about 30 % of its CPU (1.3 CPU-s of about 4.1,
bench/intake_nlu.py, measured with gc.callbacks), spent in whatever line allocated next.

So: what exists once the process has started is frozen (never walked again), and the young
generation is collected after many more net allocations than 700, the whole heap after a thousand
times more — cycles are still found, a little later, and the memory they hold meanwhile stays
bounded. How many: the worker, where nobody waits on one pass, 50,000; the web, whose answers
are waited for, 10,000, since a larger young generation made the 202's p99 about three times
longer (bench/intake.py: 26-43 ms against 12 ms). Measured with gc.callbacks in
bench/intake_nlu.py (1,500 messages x 3 rounds): the worker's collections 1.3 CPU-s with
CPython's defaults, 0.6-0.7 at 10,000, 0.27 at 50,000; POST -> classified ticket 0.65-0.72x
Rasa's parse alone with the defaults, 0.76-0.89x tuned, in runs alternating with them.
"""

from __future__ import annotations

import gc

SERVICE_THRESHOLDS = (50_000, 20, 100)  # worker, mailbox, national feed
WEB_THRESHOLDS = (10_000, 10, 100)


def tune_for_service(thresholds: tuple[int, int, int] = SERVICE_THRESHOLDS) -> None:
    """Call once, after the imports and the application object are built, before serving."""
    gc.collect()  # what start-up left behind is garbage, not to be frozen
    gc.freeze()
    gc.set_threshold(*thresholds)
