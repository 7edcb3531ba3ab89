"""The 并单 job in a real worker process: it stores the clusters at start, a held lock keeps a second
worker out (it stores nothing over the first one's), and a bad period stops start-up."""

from __future__ import annotations

import json

import pytest

from config.settings import SettingsError, load_settings
from gateway.infra.analytics_keys import clusters_key
from gateway.infra.keys import RedisKeys
from gateway.infra.resources import KEYS, REDIS
from gateway.worker.clusters import CLUSTER_JOB
from tests.gateway.conftest import eventually
from tests.gateway.worker.test_sweep import start_worker  # noqa: F401  (fixture)


async def test_a_worker_stores_the_clusters_at_start_and_a_held_lock_keeps_another_out(start_worker, stack):  # noqa: F811
    app = await start_worker(HOTLINE_CLUSTER_SECONDS=3600)
    stored = await eventually(lambda: app[REDIS].get(clusters_key(app[KEYS])))
    assert json.loads(stored)["clusters"] == []
    keys = RedisKeys(stack.prefix)
    await app[REDIS].set(keys.key("duplicates", "lock"), b"someone-else", ex=30)
    assert (await app[CLUSTER_JOB].run_once()).locked_out
    await app[REDIS].delete(keys.key("duplicates", "lock"))
    assert not (await app[CLUSTER_JOB].run_once()).locked_out


@pytest.mark.parametrize("value", ["0", "abc", "7200"])
def test_a_bad_cluster_period_stops_start_up_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("HOTLINE_CLUSTER_SECONDS", value)
    with pytest.raises(SettingsError, match="HOTLINE_CLUSTER_SECONDS"):
        load_settings()
