"""create_app(): the FastAPI application with its state, middleware, errors and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

import kassa
from kassa import composition
from kassa.accounts.provider_credentials.source import StoredCredentials
from kassa.accounts.ratelimit import RedisRateLimiter, build_limiter
from kassa.api import errors, idempotency, openapi
from kassa.api.inbound_mount import MountInbound
from kassa.api.middleware import KassaMiddleware
from kassa.api.query_guard import known_query_only
from kassa.api.routes import (
    accounts,
    affiliates,
    chain_transfers,
    commissions,
    customers,
    jobs,
    payment_methods,
    payment_session_refunds,
    payment_sessions,
    payments,
    payout_batches,
    reports,
    system,
)
from kassa.api.routes import disputes as dispute_routes
from kassa.api.routes import events as events_routes
from kassa.api.routes import inbound_events as inbound_events_routes
from kassa.api.routes import provider_credentials as provider_credentials_routes
from kassa.api.routes import test_helpers as test_helper_routes
from kassa.api.routes import webhook_endpoints as webhook_endpoint_routes
from kassa.api.routes.system import chain_health_check
from kassa.api.state import AppState
from kassa.chain.config import chains_of
from kassa.core import gctune
from kassa.core.crypto import derive_key
from kassa.core.db import create_engine, session_factory
from kassa.core.logging import configure_logging
from kassa.core.settings import Settings, get_settings
from kassa.web.checkout.app import CheckoutSettings, create_checkout_app
from kassa.webhooks.inbound.receiver import InboundReceiver

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
    composed = composition.build(settings)
    engine = create_engine(
        settings.effective_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=0,
        echo=settings.database_echo,
    )
    limiter = build_limiter(
        redis_url=settings.redis_url.get_secret_value() if settings.redis_url else None,
        api_workers=settings.api_workers,
    )
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        limiter=limiter,
        token_key=derive_key(settings.secret_key_bytes(), "kassa.user-tokens"),
    )
    accounts_credentials = StoredCredentials.of(state.sessions, settings.secret_key_bytes())
    inbound = InboundReceiver(settings, engine, state.sessions, lookup=accounts_credentials.by_id)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if tune_gc:  # not in-process (tests): frozen objects are never collected
            gctune.settle_after_startup()
        yield
        await inbound.close()
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
        generate_unique_id_function=openapi.operation_id,  # create_payment, not a path soup
    )
    app.state.kassa = state
    app.state.providers = composed.providers
    state.health_checks["providers"] = app.state.providers.health
    if settings.chains:
        state.health_checks["chains"] = chain_health_check(state)
    errors.install(app)
    openapi.install(app)  # problem responses instead of 422s, response models as declared
    app.add_middleware(
        KassaMiddleware,
        max_body_bytes=settings.max_body_bytes,
        limiter=limiter,
        ip_rate=settings.rate_limit_per_ip,
        burst=settings.rate_limit_burst,
    )
    app.state.inbound_webhooks = inbound  # accounts' credentials at /webhooks/{kind}/{pcr_id}
    app.add_middleware(MountInbound, receiver=inbound)  # outermost: /webhooks/ skips the rest
    idempotency.apply_to_all_routers()  # Idempotency-Key on every POST, before inclusion
    for module in (system, accounts, jobs):
        app.include_router(module.router)
    app.include_router(webhook_endpoint_routes.router)
    app.include_router(events_routes.router)
    app.include_router(inbound_events_routes.router)
    app.include_router(provider_credentials_routes.router)
    for payins_module in (
        payments,
        payment_methods,
        customers,
        reports,
        payment_sessions,
        payment_session_refunds,
        chain_transfers,
    ):
        app.include_router(payins_module.router)
    app.include_router(dispute_routes.router)
    app.include_router(test_helper_routes.router)
    checkout = CheckoutSettings(
        sessions=state.sessions, chains=lambda: chains_of(settings), limiter=limiter
    )
    app.mount("/checkout", create_checkout_app(checkout))  # the hosted checkout pages
    for payouts_module in (affiliates, commissions, payout_batches):
        app.include_router(payouts_module.router)
    return app
