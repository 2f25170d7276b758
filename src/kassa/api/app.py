"""create_app(): the FastAPI application with its state, middleware, errors and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

import kassa
from kassa import composition
from kassa.accounts.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from kassa.api import errors, idempotency
from kassa.api.middleware import KassaMiddleware
from kassa.api.query_guard import known_query_only
from kassa.api.routes import accounts, customers, jobs, payment_methods, payments, reports, system
from kassa.api.routes import events as events_routes
from kassa.api.routes import webhook_endpoints as webhook_endpoint_routes
from kassa.api.state import AppState
from kassa.core import gctune
from kassa.core.crypto import derive_key
from kassa.core.db import create_engine, session_factory
from kassa.core.logging import configure_logging
from kassa.core.settings import Settings, get_settings
from kassa.providers.registry import build_registry

DESCRIPTION = """kassa: payments across providers, stablecoin checkout, affiliate payouts,
webhooks and payment recovery. Authenticate with `Authorization: Bearer sk_test_...`.
Errors are RFC 7807 problem details with a stable `code` and a `request_id`."""


def create_server_app() -> FastAPI:
    """The app as ``kassa serve`` runs it, in a process of its own: with several workers each
    is a fresh interpreter, so it sets up logging itself (JSON, request ids) and tunes the GC."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.effective_log_format)
    return create_app(settings, tune_gc=True)


def create_app(settings: Settings | None = None, *, tune_gc: bool = False) -> FastAPI:
    settings = settings or get_settings()
    composition.build(settings)
    engine = create_engine(
        settings.effective_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=0,
        echo=settings.database_echo,
    )
    limiter: RateLimiter = (
        RedisRateLimiter(settings.redis_url.get_secret_value())
        if settings.redis_url
        else MemoryRateLimiter()
    )
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        limiter=limiter,
        token_key=derive_key(settings.secret_key_bytes(), "kassa.user-tokens"),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if tune_gc:  # not in-process (tests): frozen objects are never collected
            gctune.settle_after_startup()
        yield
        if isinstance(limiter, RedisRateLimiter):
            await limiter.close()
        await engine.dispose()

    app = FastAPI(
        title="kassa",
        version=kassa.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(known_query_only)],  # unknown query parameters are refused
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.kassa = state
    app.state.providers = build_registry(settings)
    state.health_checks["providers"] = app.state.providers.health
    errors.install(app)
    app.add_middleware(
        KassaMiddleware,
        max_body_bytes=settings.max_body_bytes,
        limiter=limiter,
        ip_rate=settings.rate_limit_per_ip,
        burst=settings.rate_limit_burst,
    )
    idempotency.apply_to_all_routers()  # Idempotency-Key on every POST, before inclusion
    for module in (system, accounts, jobs):
        app.include_router(module.router)
    app.include_router(webhook_endpoint_routes.router)
    app.include_router(events_routes.router)
    for payins_module in (payments, payment_methods, customers, reports):
        app.include_router(payins_module.router)
    return app
