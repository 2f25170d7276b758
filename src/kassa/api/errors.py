"""Every error leaves the API as RFC 7807 problem details with a stable ``code``.

Statuses are chosen here, by error class; domain code never thinks in HTTP. Every problem
response is counted in ``/metrics`` by status and code (``kassa_http_problems_total``).

Database errors are told apart by what caused them (``database_failure``): only a database
that cannot be reached or cannot serve is an outage (503, retry); a value it refuses is the
request's fault (400), a constraint or serialization conflict is 409, and anything else is a
bug (500) — never a 503 that sends clients retrying the same request forever.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from kassa.core import context
from kassa.core import errors as e
from kassa.core.error_catalog import RESOURCE_MISSING, ErrorCode, declare, entry_of
from kassa.core.metrics import http_problems
from kassa.payins.errors import PaymentDeclined

log = logging.getLogger("kassa.api")

STATUS: list[tuple[type[e.KassaError], int]] = [
    (e.InvalidRequest, 400),
    (PaymentDeclined, 402),
    (e.NotFound, 404),
    (e.IdempotencyError, 400),
    (e.Conflict, 409),
    (e.AuthenticationFailed, 401),
    (e.PermissionDenied, 403),
    (e.RateLimited, 429),
    (e.MethodNotAllowed, 405),
    (e.PayloadTooLarge, 413),
    (e.UnsupportedMediaType, 415),
    (e.InternalError, 500),
    (e.ConfigurationError, 500),
    (e.ServiceUnavailable, 503),
]
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

# -- the catalog entries of the codes the API layer sends itself
INVALID_REQUEST = entry_of(e.InvalidRequest)
CONFLICT = entry_of(e.Conflict)
RATE_LIMITED = entry_of(e.RateLimited)
METHOD_NOT_ALLOWED = entry_of(e.MethodNotAllowed)
PAYLOAD_TOO_LARGE = entry_of(e.PayloadTooLarge)
UNSUPPORTED_MEDIA_TYPE = entry_of(e.UnsupportedMediaType)
INTERNAL_ERROR = entry_of(e.InternalError)
SERVICE_UNAVAILABLE = entry_of(e.ServiceUnavailable)
INVALID_JSON = declare(
    "invalid_json",
    e.InvalidRequest,
    "The body is not JSON: not UTF-8, truncated, `NaN`/`Infinity`, nested deeper than 64 levels.",
)
INVALID_CHARACTER = declare(
    "invalid_character",
    e.InvalidRequest,
    "Text holding NUL (`\\u0000`) or a lone UTF-16 surrogate, in the body or the query string "
    "(PostgreSQL cannot store them).",
)
PARAMETER_UNKNOWN = declare(
    "parameter_unknown",
    e.InvalidRequest,
    "An unknown query parameter (the detail names the ones the endpoint takes).",
)
PARAMETER_CONFLICT = declare(
    "parameter_conflict",
    e.InvalidRequest,
    "Two parameters that exclude each other: `payment_method` and `payment_method_id`, "
    "`starting_after` and `ending_before`.",
)
INVALID_IDEMPOTENCY_KEY = declare(
    "invalid_idempotency_key",
    e.InvalidRequest,
    "An `Idempotency-Key` that is not 1-255 printable ASCII characters, or one that differs "
    "from the body's.",
)
CURSOR_MISSING = RESOURCE_MISSING.variant(
    e.InvalidRequest, "`starting_after` or `ending_before` names no object of the list."
)
AUTHENTICATION_REQUIRED = declare(
    "authentication_required", e.AuthenticationFailed, "No credentials were sent."
)
NOT_FOUND = declare("not_found", e.NotFound, "No such route.")

INTERNAL_ERROR_DETAIL = (
    "Something went wrong on our side. Nothing was changed; the request id identifies it in "
    "the logs."
)
DatabaseFailure = Literal["outage", "bad_value", "conflict", "bug"]


def status_for(error: e.KassaError) -> int:
    return status_of(type(error))


def status_of(kind: type[e.KassaError]) -> int:
    """The HTTP status of an error kind (and so of every catalog code of that kind)."""
    for cls, status in STATUS:
        if issubclass(kind, cls):
            return status
    return 500


def problem_body(status: int, code: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The problem document for a response about to be sent (and counted as sent)."""
    http_problems.labels(str(status), code).inc()
    body: dict[str, Any] = {
        "type": f"urn:kassa:error:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": context.current().request_id,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def answer(
    entry: ErrorCode[Any],
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The problem response of a catalog code, at the status of its kind."""
    return problem(status_of(entry.kind), entry.code, detail, headers=headers, **extra)


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, code, detail, **extra),
        status_code=status,
        headers=headers,
        media_type="application/problem+json",
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _kassa_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.KassaError)
    status = status_for(exc)
    retry_after = getattr(exc, "retry_after", None)  # RateLimited, ProviderUnavailable
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if status >= 500:
        log.error("request failed: %s", exc.message, extra={"code": exc.code})
    return problem(status, exc.code, exc.message, headers=headers, param=exc.param, **exc.details)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return answer(INVALID_JSON, "The request body is not valid JSON.")
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "value_error":  # our own validators: their message, unprefixed
            message = message.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "Unknown field."
        errors.append({"param": _field(tuple(err.get("loc", ()))), "message": message})
    first = errors[0] if errors else {"param": "body", "message": "invalid"}
    detail = f"{first['param']}: {first['message']}"
    return answer(INVALID_REQUEST, detail, param=first["param"], errors=errors)


def _allowed_methods(request: Request) -> str | None:
    """Every method the OpenAPI document lists for the request's path (Starlette names only
    those of the one route it matched)."""
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    for template, operations in paths.items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            return ", ".join(sorted(m.upper() for m in operations if m.upper() in _METHODS))
    return None


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    fallback: ErrorCode[Any] = INVALID_REQUEST if exc.status_code < 500 else INTERNAL_ERROR
    entry = _HTTP_CODES.get(exc.status_code, fallback)
    return problem(exc.status_code, entry.code, str(exc.detail), headers=headers or None)


_HTTP_CODES: dict[int, ErrorCode[Any]] = {
    400: INVALID_JSON,  # FastAPI's "error parsing the body"
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: PAYLOAD_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}


# SQLSTATE classes (the first two characters) that mean the database cannot serve right now.
_OUTAGE_CLASSES = frozenset({"08", "53", "57", "58"})  # connection, resources, shutdown, system
_CONFLICT_CLASSES = frozenset({"23", "40"})  # constraint violation, serialization / deadlock
# Data exception (out of range, bad encoding, malformed value) and program limit exceeded
# (a NUL in text, too many arguments): what the request sent, not the database's state.
_BAD_VALUE_CLASSES = frozenset({"22", "54"})


def _sqlstate(exc: DBAPIError) -> str | None:
    for cause in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str) and len(state) == 5:
            return state
    return None


def database_failure(exc: DBAPIError) -> DatabaseFailure:
    """``outage``, ``bad_value``, ``conflict`` or ``bug``: what a database error means."""
    if exc.connection_invalidated:
        return "outage"
    state = _sqlstate(exc)
    if state is not None:  # PostgreSQL says exactly what happened
        kind = state[:2]
        if kind in _OUTAGE_CLASSES:
            return "outage"
        if kind in _BAD_VALUE_CLASSES:
            return "bad_value"
        return "conflict" if kind in _CONFLICT_CLASSES else "bug"
    if isinstance(exc, OperationalError):  # SQLite busy or locked, a lost connection
        return "outage"
    if isinstance(exc, DataError):
        return "bad_value"
    return "conflict" if isinstance(exc, IntegrityError) else "bug"


async def _database_down(_: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", type(exc).__name__)
    return answer(
        SERVICE_UNAVAILABLE,
        "The database is unavailable. Nothing was changed; try again shortly.",
        headers={"Retry-After": "5"},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    failure = database_failure(exc)
    if failure == "outage":
        return await _database_down(request, exc)
    cause = type(getattr(exc, "orig", None) or exc).__name__
    if failure == "bad_value":
        # The request's fault, not an outage: a 503 would make clients retry it forever.
        log.warning("value refused by the database: %s", cause)
        return answer(INVALID_REQUEST, "A value in the request is outside what can be stored.")
    if failure == "conflict":
        log.warning("database conflict: %s", cause)
        return answer(
            CONFLICT,
            "The request conflicted with a concurrent change. Nothing was changed; retry it.",
        )
    return await _unexpected(request, exc)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return answer(INTERNAL_ERROR, INTERNAL_ERROR_DETAIL)


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.KassaError, _kassa_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(PoolTimeout, _database_down)
    app.add_exception_handler(OSError, _database_down)  # connection refused, reset, timed out
    app.add_exception_handler(DBAPIError, _database_error)
    # Anything else: the middleware answers (with the request id) before this last resort.
    app.add_exception_handler(Exception, _unexpected)
