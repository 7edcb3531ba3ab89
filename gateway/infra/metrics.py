"""Prometheus metrics, one registry per app so several apps (tests, replicas) never clash."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:  # pragma: no cover
    from prometheus_client import CollectorRegistry


from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter("hotline_messages_accepted_total", "Messages put on the intake stream",
                                ["channel"], registry=self.registry)
        self.rejected = Counter("hotline_messages_rejected_total", "Inbound requests refused",
                                ["channel", "reason"], registry=self.registry)
        self.processed = Counter("hotline_messages_processed_total", "Messages committed by workers",
                                 ["channel", "outcome"], registry=self.registry)
        self.duplicates = Counter("hotline_duplicate_deliveries_total", "Redelivered messages ignored",
                                  ["channel"], registry=self.registry)
        self.failures = Counter("hotline_worker_failures_total", "Failed processing attempts",
                                registry=self.registry)
        self.dead_lettered = Counter("hotline_dead_letters_total", "Entries moved to the dead-letter stream",
                                     registry=self.registry)
        self.reclaimed = Counter("hotline_reclaimed_total", "Entries reclaimed from dead consumers",
                                 registry=self.registry)
        self.process_seconds = Histogram("hotline_process_seconds", "Worker time per message",
                                         registry=self.registry)
        self.nlu_seconds = Histogram("hotline_nlu_seconds", "NLU parse time", registry=self.registry)
        self.backlog = Gauge("hotline_intake_pending", "Entries read but not acknowledged",
                             registry=self.registry)


METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
