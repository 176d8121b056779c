"""The FastAPI application: routers, problem+json errors, request ids, upload limits."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from api import audit, problems
from api.auth import PrincipalCache
from api.calls import writer_thread
from api.command_lane import CommandLane
from api.limits import UploadLimit
from api.logs import RequestContext
from api.routes import (
    businesses, evidence, health, partnerships, regulations, signals, stats, tokens,
)
from api.routes import imports as import_routes
from api import web
from api.routes import audit as audit_routes
from api.routes import compliance as compliance_routes
from api.wiring import Container
from api.writers import CacheGuard

DESCRIPTION = """Kemitraan Ledger records partnerships (*kemitraan*) between UMKM and large
businesses as immutable events, and answers which of them are real.
Every request but `GET /v1/health` carries `Authorization: Bearer <token>`."""


def settle_heap() -> None:
    """Before serving: collect once, then move every object alive now (modules, the app, the
    container) out of the garbage collector's generations for good. A full collection then
    walks only what requests created: answers with thousands of groups allocate enough to
    trigger several per request, and each walked every object of the process (a national
    `large_nib` funnel: p95 ~70 ms against p50 ~25 ms; docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()


def create_app(container: Container, clock: Callable[[], datetime] | None = None,
               run_projections: bool = False, command_lane: bool = True) -> FastAPI:
    """`run_projections`: keep the views caught up in a background thread for the app's
    lifetime (`kemitraan serve`), or with `KEMITRAAN_PROJECTIONS=follow` only wait for another
    process to fold them. Without it, projection reads catch up synchronously.
    `command_lane`: well-formed partnership commands skip FastAPI's per-request machinery
    (ADR 0021); off, every request takes the FastAPI routes (tests compare the two)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        guard = CacheGuard(container.engine, container.ledger.command_cache)
        guard.start()  # PostgreSQL: no command cache while another server writes (ADR 0010)
        if run_projections:
            if container.settings.projections == "follow":
                container.views.follow()  # `kemitraan project` folds them (ADR 0011)...
            else:  # ... and signs the audit checkpoints: only the folding process signs
                container.views.start()  # (several signers raced on each tree size, ADR 0014)
                audit.start_signer(container)
        try:
            yield
        finally:
            audit.stop_signer(container)
            container.views.stop()
            guard.stop()
            if app.state.writer is not None:
                app.state.writer.stop()

    app = FastAPI(title="Kemitraan Ledger", version="1", description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.container = container
    app.state.clock = clock
    app.state.principals = PrincipalCache()
    app.state.writer = writer_thread(container.store_kind)  # SQLite: one command thread
    problems.install(app)
    app.add_middleware(UploadLimit, max_bytes=container.settings.max_upload_bytes)
    app.add_middleware(RequestContext)
    for module in (health, businesses, partnerships, evidence, tokens, stats, signals,
                   regulations):
        app.include_router(module.router)
    app.include_router(import_routes.router)
    app.include_router(web.router)  # the dashboard at / (not in the OpenAPI document)
    app.state.invalid_page = web.invalid_request  # its 422s as HTML (api/problems.py)
    app.state.missing_page = web.missing_page  # and its 404s and 405s
    app.mount("/static", web.static, name="static")
    app.include_router(audit_routes.router)
    app.include_router(compliance_routes.router)
    if command_lane:  # first, so that it is matched before the routers it shortens
        app.router.routes.insert(0, CommandLane(partnerships.LANE))
    _document_problem_schema(app)
    return app


def _document_problem_schema(app: FastAPI) -> None:
    """Put ProblemDetail under components so every error response can reference it."""
    from api.deps import ProblemDetail

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["ProblemDetail"] = \
            ProblemDetail.model_json_schema()
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
