"""Assembles a process: the shared resources, then the services and the web app it runs.

``create_app`` is the HTTP gateway (optionally with an in-process worker and the other
services); ``create_service_app`` is a process without HTTP (``hotline worker``, ``smtp``,
``feed``): resources and its background services only, no routes, templates or sessions.
"""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web

from config.directory import Directory, load_directory
from config.settings import Settings
from gateway.channels.wiring import add_channels
from gateway.infra.resources import add_resources
from gateway.web.app import MAX_REQUEST_BYTES, setup_web
from gateway.worker.analytics import analytics_ctx
from gateway.worker.clusters import clusters_ctx
from gateway.worker.gathering_release import gathering_release_ctx
from gateway.worker.reclassify import reclassify_ctx
from gateway.worker.service import add_pipeline, worker_ctx
from gateway.worker.sweep import sweep_ctx

SERVICES = frozenset({"worker", "feed", "smtp"})


def _base(settings: Settings, *, redis_url: str, services: Collection[str], consumer: str | None,
          directory: Directory | None, client_max_size: int = 1024 ** 2) -> web.Application:
    unknown = set(services) - SERVICES
    if unknown:
        raise ValueError(f"unknown services: {sorted(unknown)}")
    app = web.Application(client_max_size=client_max_size)
    add_resources(app, settings, redis_url=redis_url, directory=directory or load_directory())
    add_pipeline(app)
    if "worker" in services:
        app.cleanup_ctx.append(worker_ctx(consumer))
    add_channels(app, poll_feed="feed" in services, serve_smtp="smtp" in services)
    if "worker" in services:
        # After the channels: it stops before they close the mail relay it sends through.
        app.cleanup_ctx.append(sweep_ctx())
        app.cleanup_ctx.append(analytics_ctx())
        app.cleanup_ctx.append(clusters_ctx())
        # Tickets opened while the NLU was away get its pre-classification when it answers again.
        app.cleanup_ctx.append(reclassify_ctx())
        # Chat tickets whose question went unanswered go to the queue with the gap flagged.
        app.cleanup_ctx.append(gathering_release_ctx())
    return app


def create_service_app(settings: Settings, *, redis_url: str, services: Collection[str],
                       consumer: str | None = None, directory: Directory | None = None) -> web.Application:
    """A process that runs background services only."""
    return _base(settings, redis_url=redis_url, services=services, consumer=consumer, directory=directory)


def create_app(
    settings: Settings,
    *,
    redis_url: str,
    run_worker: bool = False,
    services: Collection[str] = (),
    consumer: str | None = None,
    directory: Directory | None = None,
) -> web.Application:
    """The HTTP gateway.  ``services`` picks the background services this process also runs:
    ``worker`` (stream consumer; also ``run_worker=True``), ``feed`` (national platform poller),
    ``smtp`` (the mayor's mailbox server)."""
    services = set(services) | ({"worker"} if run_worker else set())
    app = _base(settings, redis_url=redis_url, services=services, consumer=consumer, directory=directory,
                client_max_size=MAX_REQUEST_BYTES)
    setup_web(app)
    return app
