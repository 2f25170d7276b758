"""``Idempotency-Key`` for every POST of an API router, with Stripe's semantics.

``create_app`` applies it to every router in ``kassa.api.routes`` (``apply_to_all_routers``);
elsewhere give the router ``route_class=IdempotentRoute`` (``v1_router()`` does). Per request:

1. FastAPI authenticates, checks scopes and validates the body as usual; failures there never
   touch a key, so the client can fix the request and send the same key again.
2. Right before the endpoint runs, the key is claimed for (account and credentials, key) in a short committed
   transaction of the request's session. A key already used answers instead of the endpoint:
   its stored response (``Idempotent-Replayed: true``), 400 ``idempotency_error`` for different
   parameters, or 409 ``idempotency_in_flight`` while its first request is still running.
3. How the request ends decides whether the key remembers it, by one rule: **a request is
   remembered if and only if it committed a change.**

   - The endpoint answered: its change (in the request's own transaction) and its stored
     response commit together, in that transaction, which the session dependency commits
     after this handler returns and before the response is sent.
   - It raised before committing anything (any 4xx refusal, a 429 or 503 that changed nothing,
     an unexpected error): its transaction is rolled back and the claim released, so the
     client can fix the request, or just retry it, with the same key.
   - It raised after it committed a change in a transaction of its own (a provider route,
     once its intent is on disk: ``ClaimedKey.committed``): a domain error (402 decline,
     the provider's 400, 503 after the provider was tried) is stored and replayed like a
     success; an unexpected error leaves the outcome unknown, so the key stays claimed until
     the lock timeout and the retry that takes it over resumes that work (``resumes_since``).

Routes without an authenticated caller (``/v1/auth/token``) ignore the header. Stored bodies
are encrypted with a key derived from KASSA_SECRET_KEY (a create-API-key response holds a secret).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from kassa.accounts import idempotency as keys
from kassa.accounts.principal import Principal
from kassa.api.errors import INVALID_IDEMPOTENCY_KEY, answer, problem, status_for
from kassa.core.changes import RowUpdate
from kassa.core.crypto import BytesBox
from kassa.core.errors import IdempotencyError, IdempotencyInFlight, KassaError
from kassa.core.settings import Settings

log = logging.getLogger("kassa.api.idempotency")

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEY_RE = re.compile(r"[\x20-\x7e]{1,255}")
_STORED_HEADERS = ("content-type", "location", "link")
_NOT_STORED = frozenset({401, 403, 429})
_NOT_COPIED = frozenset({"self", "path", "endpoint"})

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def v1_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` under ``/v1`` whose POST routes honour ``Idempotency-Key``."""
    kwargs.setdefault("prefix", "/v1")
    return APIRouter(route_class=IdempotentRoute, **kwargs)


def make_idempotent(router: APIRouter) -> APIRouter:
    """Turn the router's POST routes into IdempotentRoutes, in place (safe to repeat)."""
    names = [n for n in inspect.signature(APIRoute.__init__).parameters if n not in _NOT_COPIED]
    for index, route in enumerate(router.routes):
        if not isinstance(route, APIRoute) or isinstance(route, IdempotentRoute):
            continue
        if "POST" in (route.methods or ()):
            copied = {n: getattr(route, n) for n in names if hasattr(route, n)}
            router.routes[index] = IdempotentRoute(route.path, route.endpoint, **copied)
    return router


def apply_to_all_routers() -> None:
    """Make every router in ``kassa.api.routes`` idempotent, so none can forget to be.

    ``create_app`` calls this before including the routers.
    """
    import importlib
    import pkgutil

    from kassa.api import routes

    for info in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            make_idempotent(router)


class IdempotentRoute(APIRoute):
    """An APIRoute whose POSTs honour ``Idempotency-Key`` (see the module docstring)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _claim_first(endpoint), **kwargs)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if "POST" not in (self.methods or ()):
            return handler

        async def idempotent(request: Request) -> Response:
            if request.method != "POST":
                return await handler(request)
            try:
                key, conflict = await _requested_key(request)
            except ClientDisconnect:
                return Response(status_code=400)  # nobody is left to read an answer
            if key is None:
                return await handler(request)
            pending = _Pending(request, key, key_conflict=conflict)
            token = _pending.set(pending)
            try:
                return await _handle(handler, pending)
            finally:
                _pending.reset(token)

        return idempotent


@dataclass
class _Pending:
    """One request with a key, from the handler to the claim in the endpoint wrapper."""

    request: Request
    key: str
    claimed: bool = False
    lock_id: str = ""
    ident: keys.Request | None = None
    session: AsyncSession | None = None
    resumes_since: datetime | None = None
    stored: bool = False  # the route stored its response itself (``ClaimedKey.change_for``)
    key_conflict: bool = False  # the header and the body's idempotency_key differ
    committed: bool = False  # a change outside the request's transaction is on disk


_pending: ContextVar[_Pending | None] = ContextVar("kassa_idempotency", default=None)


class _Answer(Exception):
    """Raised by the claim to answer the request without running the endpoint."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotency answer")
        self.response = response


_BODY_FIELD = "idempotency_key"
_BODY_FIELD_JSON = f'"{_BODY_FIELD}"'.encode()  # a cheap test before parsing the body


async def _requested_key(request: Request) -> tuple[str | None, bool]:
    """The header, or the body's ``idempotency_key`` field (seed 004's request shape) when
    there is no header: a client that sends it there must not be charged twice either.
    Also whether both were given and differ (answered after authentication, in ``_claim``)."""
    header = request.headers.get(HEADER)
    body = await request.body()
    in_body: object = None
    if _BODY_FIELD_JSON in body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None  # the route's own validation answers malformed JSON
        if isinstance(parsed, dict):
            in_body = parsed.get(_BODY_FIELD)
    if not isinstance(in_body, str):
        in_body = None  # the route's validation refuses the wrong type
    conflict = header is not None and in_body is not None and header != in_body
    return (header if header is not None else in_body), conflict


def _claim_first(endpoint: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Wrap an endpoint so the key is claimed after all dependencies and validation ran."""
    is_async = inspect.iscoroutinefunction(endpoint)

    @functools.wraps(endpoint)
    async def endpoint_with_claim(*args: Any, **kwargs: Any) -> Any:
        pending = _pending.get()
        if pending is not None and not pending.claimed:
            pending.claimed = True
            await _claim(pending)
        if is_async:
            return await endpoint(*args, **kwargs)
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return endpoint_with_claim


def claim_scope(principal: Principal) -> str:
    """Whose key this is: the account AND the credentials (one key is of one mode). Another
    key of the same account sending the same Idempotency-Key makes a request of its own, so a
    replay never hands one key's answer (a new key's secret, a live object) to another."""
    return f"{principal.account_id or '-'}/{principal.actor}"


async def _claim(pending: _Pending) -> None:
    request = pending.request
    principal: Principal | None = getattr(request.state, "principal", None)
    session: AsyncSession | None = getattr(request.state, "db_session", None)
    if principal is None or session is None:
        return  # no authenticated account to scope the key to: no idempotency
    if pending.key_conflict:
        raise _Answer(
            answer(
                INVALID_IDEMPOTENCY_KEY,
                f"The Idempotency-Key header and the body's {_BODY_FIELD} differ; send one.",
                param=HEADER,
            )
        )
    if not _KEY_RE.fullmatch(pending.key):
        raise _Answer(
            answer(
                INVALID_IDEMPOTENCY_KEY,
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                param=HEADER,
            )
        )
    settings: Settings = request.app.state.kassa.settings
    ident = keys.Request(
        account_id=claim_scope(principal),
        key=pending.key,
        fingerprint=fingerprint(
            request.method, request.url.path, request.url.query, await request.body()
        ),
        method=request.method,
        path=request.url.path,
    )
    try:
        outcome = await keys.claim(
            session,
            ident,
            ttl=timedelta(hours=settings.idempotency_ttl_hours),
            lock_timeout=timedelta(seconds=settings.idempotency_lock_timeout_seconds),
        )
    except IdempotencyInFlight as exc:
        await session.rollback()
        retry_after = str(exc.details.get("retry_after", 1))
        raise _Answer(
            problem(status_for(exc), exc.code, exc.message, headers={"Retry-After": retry_after})
        ) from None
    except IdempotencyError as exc:
        await session.rollback()
        raise _Answer(problem(status_for(exc), exc.code, exc.message, param=exc.param)) from None
    if isinstance(outcome, keys.Stored):
        await session.rollback()
        raise _Answer(_replay(request, outcome))
    await session.commit()  # the claim is visible to every other process from here on
    pending.lock_id, pending.ident, pending.session = outcome.lock_id, ident, session
    pending.resumes_since = outcome.resumes_since


@dataclass(frozen=True)
class ClaimedKey:
    key: str
    resumes_since: datetime | None  # set when an earlier attempt with this key died mid-way
    _pending: _Pending

    def change_for(self, response: Response) -> RowUpdate:
        """The row change storing ``response`` as this key's answer, for a route that folds
        it into its own last statement (atomic with its change, one round trip fewer)."""
        return _finish_change(self._pending, response)

    def stored(self) -> None:
        """The route committed ``change_for``'s change: nothing left to store."""
        self._pending.stored = True

    def committed(self) -> None:
        """The route committed a change in a transaction of its own (an intent, before it
        calls a provider): from here on the request is remembered however it ends. A domain
        error is stored and replayed; an unexpected error must not free the key, or a retry
        would redo (and charge) it: the key stays claimed until the lock timeout, and the
        retry that takes it over gets ``resumes_since`` to find and resume that work. Until
        this is called, an error means nothing changed, and the key is freed."""
        self._pending.committed = True


def claimed_key() -> ClaimedKey | None:
    """The Idempotency-Key this request holds, for routes that must find what an earlier,
    crashed attempt with the same key created (so a retry resumes it instead of redoing it)."""
    pending = _pending.get()
    if pending is None or not pending.lock_id:
        return None
    return ClaimedKey(pending.key, pending.resumes_since, pending)


async def _handle(handler: Handler, pending: _Pending) -> Response:
    try:
        response = await handler(pending.request)
    except _Answer as answer:
        return answer.response
    except Exception as exc:
        if not pending.lock_id:
            raise
        if not pending.committed:
            await _release(pending)  # nothing changed: the key is free for a corrected retry
            raise
        stored = (
            await _error_response(pending.request, exc) if isinstance(exc, KassaError) else None
        )
        if stored is None:
            raise  # the outcome is unknown: see ClaimedKey.committed
        assert pending.session is not None
        await pending.session.rollback()  # the request transaction's partial changes
        await _store(pending, stored)
        return stored
    if not pending.lock_id or pending.stored:
        return response
    storable = pending.committed or _storable(response.status_code)
    if storable and isinstance(getattr(response, "body", None), bytes):
        await _store(pending, response)
    else:
        await _release(pending, commit=False)  # rides along with the route's commit
    return response


def _storable(status: int) -> bool:
    """Whether an answer the endpoint returned (not raised) is remembered: it commits with the
    request's transaction; 401/403/429/5xx say nothing was done, so the key stays free."""
    return status < 500 and status not in _NOT_STORED


async def _store(pending: _Pending, response: Response) -> None:
    """Write the response into the request's transaction (committed by the session dependency)."""
    assert pending.session is not None
    if not await keys.finish(pending.session, _finish_change(pending, response)):
        # This request outlived the lock timeout and a retry took the key over: undo our work.
        await pending.session.rollback()
        raise IdempotencyInFlight(
            "This request took longer than the idempotency lock timeout and a retry with the "
            "same Idempotency-Key took over; nothing was changed by this one."
        )


def _finish_change(pending: _Pending, response: Response) -> RowUpdate:
    assert pending.ident is not None
    headers = {k: v for k, v in response.headers.items() if k in _STORED_HEADERS}
    return keys.finish_change(
        pending.ident,
        lock_id=pending.lock_id,
        status_code=response.status_code,
        headers=headers,
        body=_box(pending.request).encrypt(bytes(response.body)),
    )


async def _release(pending: _Pending, *, commit: bool = True) -> None:
    assert pending.session is not None and pending.ident is not None
    session = pending.session
    try:
        if commit:
            await session.rollback()
        await keys.release(session, pending.ident, lock_id=pending.lock_id)
        if commit:
            await session.commit()
    except Exception:  # the lock timeout frees the key later
        log.warning("could not release an idempotency key", exc_info=True)


async def _error_response(request: Request, exc: KassaError) -> Response | None:
    """The response the app's own exception handler gives ``exc``."""
    handlers: dict[Any, Callable[..., Any]] = request.app.exception_handlers
    for cls in type(exc).__mro__:
        if cls in handlers:
            result = handlers[cls](request, exc)
            response = await result if inspect.isawaitable(result) else result
            return response if isinstance(response, Response) else None
    return None


def _replay(request: Request, stored: keys.Stored) -> Response:
    body = _box(request).decrypt(stored.body)  # ConfigurationError if the key changed
    headers = {**stored.headers, REPLAYED: "true"}
    return Response(content=body, status_code=stored.status_code, headers=headers)


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What "the same request" means: method, path, query and the canonical JSON body."""
    canonical = body
    if body.strip():
        try:
            parsed = json.loads(body)
        except ValueError:
            pass  # not JSON: compare the bytes
        else:
            canonical = json.dumps(
                parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode()
    query = urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def _box(request: Request) -> BytesBox:
    box: BytesBox | None = getattr(request.app.state, "idempotency_box", None)
    if box is None:
        settings: Settings = request.app.state.kassa.settings
        box = BytesBox(settings.secret_key_bytes(), "kassa.idempotency-responses")
        request.app.state.idempotency_box = box
    return box
