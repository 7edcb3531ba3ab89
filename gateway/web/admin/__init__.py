"""Admins train the bot: intents & FAQ answers editor, training with progress, evaluation, safe activation.

Pages under ``/admin/nlu`` (role admin), the same actions as JSON under ``/api/v1/admin/nlu``; the
intake pipeline's operations API (``/api/v1/admin/…``); the training suggestions, also at their
console URLs.  One sub-app (:mod:`gateway.web.audiences`) with the console session; the NLU
follower runs for the sub-app's lifetime.

Settings (environment): ``HOTLINE_NLU_TRAIN_EPOCHS`` (epochs of the pipeline's components that train in
epochs, for admin trainings; today's pipeline has none), ``HOTLINE_NLU_GUARD_MARGIN`` (allowed drop against the
active model in percentage points, default 2), ``HOTLINE_NLU_SWAP_TIMEOUT`` (client timeout while an
external Rasa swaps its model, default 45 s).
"""

from __future__ import annotations

from aiohttp import web

from gateway.infra.resources import SETTINGS
from gateway.web.admin import active_evaluation, nlu_api, nlu_pages, operations, suggestions
from gateway.web.admin.state import STATE, ManagedRasa, NluAdminState, follower
from gateway.web.audiences import lifespan
from gateway.web.auth import use_sessions

__all__ = ["ManagedRasa", "create_admin_app"]


def create_admin_app(root: web.Application) -> web.Application:
    settings = root[SETTINGS]
    app = web.Application()
    app[STATE] = NluAdminState(configured_url=settings.rasa_url if settings.nlu_enabled else None,
                               base_timeout=settings.nlu_timeout)
    use_sessions(app, root)
    lifespan(app, root, follower)
    lifespan(app, root, active_evaluation.startup_evaluation)
    for module in (nlu_api, nlu_pages, suggestions, operations):
        app.router.add_routes(module.routes)
    return app

