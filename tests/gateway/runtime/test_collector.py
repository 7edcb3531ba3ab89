"""The long-running processes freeze what start-up built and collect the young generation rarely
(gateway/runtime/collector.py); `hotline web` and the service processes call it before serving."""

from __future__ import annotations

import gc
import subprocess
import sys

from gateway.runtime.collector import SERVICE_THRESHOLDS, WEB_THRESHOLDS, tune_for_service


def test_start_up_objects_are_frozen_and_the_thresholds_raised():
    before = gc.get_threshold()
    try:
        tune_for_service()
        assert gc.get_threshold() == SERVICE_THRESHOLDS
        tune_for_service(WEB_THRESHOLDS)
        assert gc.get_threshold() == WEB_THRESHOLDS
        assert gc.get_freeze_count() > 1000  # the imported modules' objects
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_cycles_are_still_collected():
    script = """
import gc, weakref
from gateway.runtime.collector import tune_for_service
tune_for_service()
class Node: pass
node = Node(); node.me = node
alive = weakref.ref(node)
del node
kept = []
for _ in range(200_000):  # allocations that live on, as a busy worker's do
    kept.append([])
    if alive() is None:
        break
print(alive() is None)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True", done.stderr

