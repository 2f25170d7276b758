"""The served OpenAPI document, made truthful: problem responses instead of FastAPI's 422.

kassa never answers 422 (validation failures are 400 problems), so the generated
``HTTPValidationError`` entries are removed. Every operation lists the problem responses it
can give, all with one schema, ``Problem``, whose ``code`` enumerates the codes kassa sends:

- every operation: 400 (bad query or body), 429 (per address), 500 and 503;
- every operation under /v1 that needs credentials: 401 and 403 (the sign-in: 401);
- an operation with a path id: 404; with a request body: 413 and 415;
- a write under /v1: 409 (the object's state, or an Idempotency-Key still in flight);
- what a route declares itself with ``problems(...)``: 402 for declines, 404 for an object a
  body names (``customer_id``), ...

Every POST under /v1 but the sign-in takes an ``Idempotency-Key`` header (``kassa.api.
idempotency``), so each documents it as a parameter.

Operation ids are the route functions' names (``create_payment``, ``capture_payment``), so a
generated client reads like the API reference (``openapi-python-client`` takes them as is).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from kassa.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from kassa.core.error_catalog import code_names

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_MEDIA = "application/problem+json"
SIGN_IN = "/v1/auth/token"
_DESCRIPTIONS = {
    400: "The request is invalid; nothing was changed.",
    401: "Missing or invalid credentials.",
    402: "The payment was declined (`decline_code`; the failed payment is `payment`).",
    403: "The credentials may not do this.",
    404: "No such object for this account.",
    409: "The object's state, or a request still running with this Idempotency-Key, forbids it.",
    413: "The request body is too large.",
    415: "The request body is not JSON.",
    429: "Too many requests; wait Retry-After seconds.",
    500: "Something went wrong on our side; nothing was changed.",
    503: "A service kassa depends on is unavailable; retry after Retry-After seconds.",
}
_WITH_BODY = frozenset({"post", "put", "patch"})
_WRITES = _WITH_BODY | {"delete"}


def problem_codes() -> list[str]:
    """Every ``code`` a problem response of the API can carry: the error catalog's (a
    provider's refusal passes through only with a catalogued code, see
    ``payins.errors.refused_by_provider``)."""
    return code_names()


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route decorator: the problems this route can answer with beyond
    the ones every operation of its kind documents (see the module docstring)."""
    return {status: _problem_response(status) for status in statuses}


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_MEDIA: {"schema": {"$ref": PROBLEM_REF}}},
    }


def problem_schema(*, payment_ref: str | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "type": {"type": "string", "examples": ["urn:kassa:error:invalid_request"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {
            "type": "string",
            "enum": problem_codes(),
            "description": "Stable: what went wrong (docs/errors.md lists every code).",
        },
        "param": {"type": "string", "description": "The field, parameter or header at fault."},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "description": "Every invalid field, when there are several.",
            "items": {
                "type": "object",
                "properties": {"param": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "payment_id": {"type": "string", "description": "The payment that failed."},
        "decline_code": {
            "type": ["string", "null"],
            "description": "Why the card was declined (402), e.g. insufficient_funds.",
        },
    }
    if payment_ref is not None:
        properties["payment"] = {
            "$ref": payment_ref,
            "description": "The failed payment, as GET /v1/payments/{id} shows it.",
        }
    return {
        "title": "Problem",
        "description": "RFC 7807 problem details with a stable `code`.",
        "type": "object",
        "required": ["type", "title", "status", "detail", "code", "request_id"],
        "properties": properties,
        "additionalProperties": True,
    }


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    found = {400, 429, 500, 503}
    if path.startswith("/v1/"):
        found |= {401} if path == SIGN_IN else {401, 403}
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        found.add(404)
    if method in _WITH_BODY:
        found |= {413, 415}
    if method in _WRITES and path.startswith("/v1/"):
        found.add(409)
    return found


_LIST = re.compile(r"ListResponse[_\[](\w+?)(?:Out)?[_\]]")  # its ref, and its title


def _name_lists(schema: dict[str, Any]) -> dict[str, Any]:
    """``ListResponse[PaymentOut]`` is ``PaymentList`` (pydantic names it
    ``ListResponse_PaymentOut_``), in generated clients too."""
    text = json.dumps(schema)
    renamed = _LIST.sub(lambda m: f"{m.group(1)}List", text)
    result: dict[str, Any] = json.loads(renamed) if renamed != text else schema
    return result


_IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": "Makes the request safe to retry: a repeat with the same key gets the "
    "first one's response (Idempotent-Replayed: true) for 24 hours by default; the same key "
    "with other parameters is refused (idempotency_error).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
}


def complete(generated: dict[str, Any]) -> dict[str, Any]:
    """FastAPI's document with the problem responses in place of the 422s."""
    schema = _name_lists(generated)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    payment = "#/components/schemas/PaymentOut" if "PaymentOut" in components else None
    components["Problem"] = problem_schema(payment_ref=payment)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method == "post" and path.startswith("/v1/") and path != SIGN_IN:
                operation.setdefault("parameters", []).append(dict(_IDEMPOTENCY_PARAMETER))
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in sorted(_statuses(path, method, operation)):
                entry = responses.setdefault(str(status), {"description": _DESCRIPTIONS[status]})
                # A route's own answer for that status (/health's 503) stays beside it.
                content = entry.setdefault("content", {})
                content.setdefault(PROBLEM_MEDIA, {"schema": {"$ref": PROBLEM_REF}})
    return schema


def operation_id(route: APIRoute) -> str:
    """``generate_unique_id_function`` of the app: the route function's name."""
    return route.name


def install(app: FastAPI) -> None:
    """Serve ``complete(FastAPI's document)`` at /openapi.json (built once, when first asked)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
