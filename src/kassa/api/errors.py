"""Every error leaves the API as RFC 7807 problem details with a stable ``code``.

Statuses are chosen here, by error class; domain code never thinks in HTTP.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from kassa.core import context
from kassa.core import errors as e
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


def status_for(error: e.KassaError) -> int:
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:kassa:error:{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": context.current().request_id,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _kassa_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.KassaError)
    status = status_for(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, e.RateLimited) else None
    if status >= 500:
        log.error("request failed: %s", exc.message, extra={"code": exc.code})
    return problem(status, exc.code, exc.message, headers=headers, param=exc.param, **exc.details)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return problem(400, "invalid_json", "The request body is not valid JSON.")
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "extra_forbidden":
            message = "Unknown field."
        errors.append({"param": _field(tuple(err.get("loc", ()))), "message": message})
    first = errors[0] if errors else {"param": "body", "message": "invalid"}
    detail = f"{first['param']}: {first['message']}"
    return problem(400, "invalid_request", detail, param=first["param"], errors=errors)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        415: "unsupported_media_type",
    }
    code = getattr(exc, "code", None) or codes.get(exc.status_code, "http_error")
    return problem(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _database_down(_: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", type(exc).__name__)
    return problem(
        503,
        "service_unavailable",
        "The database is unavailable. Nothing was changed; try again shortly.",
        headers={"Retry-After": "5"},
    )


async def _unstorable_value(_: Request, exc: Exception) -> JSONResponse:
    # The database refused a value (out of range, malformed): the request's fault, not an
    # outage, so no 503 that would make clients retry the same thing forever.
    log.warning("value refused by the database: %s", type(getattr(exc, "orig", exc)).__name__)
    return problem(400, "invalid_request", "A value in the request is outside what can be stored.")


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ConnectionError | OSError):
        return await _database_down(_, exc)
    log.exception("unhandled error", exc_info=exc)
    return problem(
        500,
        "internal_error",
        "Something went wrong on our side. Nothing was changed; the request id "
        "identifies it in the logs.",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.KassaError, _kassa_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_down)
    app.add_exception_handler(PoolTimeout, _database_down)
    app.add_exception_handler(DBAPIError, _database_down)
    app.add_exception_handler(DataError, _unstorable_value)
    app.add_exception_handler(Exception, _unexpected)
