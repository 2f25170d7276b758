"""Every API response a test receives is checked against the served OpenAPI document.

``api_transport(app)`` is the ASGI transport the tests' HTTP clients use: each response is
matched to its operation (method and path template) and status, and its JSON body validated
against the documented schema of that content type. A route that answers something its
documentation does not describe fails the test that saw it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_JSON_TYPES = ("application/json", "application/problem+json")


@dataclass(frozen=True)
class _Operation:
    pattern: re.Pattern[str]
    method: str
    responses: dict[str, Any]


class OpenApiContract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource("urn:kassa:openapi", resource)
        self.operations: list[_Operation] = []
        for path, item in document.get("paths", {}).items():
            regex = "^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(path)) + "$"
            for method, operation in item.items():
                self.operations.append(
                    _Operation(re.compile(regex), method.upper(), operation.get("responses", {}))
                )
        # Literal paths before templated ones (/v1/events/types before /v1/events/{id}).
        self.operations.sort(key=lambda o: o.pattern.pattern.count("[^/]+"))

    def problems(self, method: str, path: str, status: int, content_type: str, body: bytes) -> str:
        """Why this response breaks the contract, or "" when it does not."""
        operation = next(
            (o for o in self.operations if o.method == method and o.pattern.match(path)), None
        )
        if operation is None:
            return ""  # not an API operation (a 404 or 405 of an unknown route)
        documented = operation.responses.get(str(status)) or operation.responses.get("default")
        if documented is None:
            return f"{method} {path}: status {status} is not documented"
        media = content_type.split(";", 1)[0].strip()
        content = documented.get("content") or {}
        if not content:
            return f"{method} {path} {status}: a body is sent, none documented" if body else ""
        schema_entry = content.get(media)
        if schema_entry is None:
            return f"{method} {path} {status}: {media} is not documented ({sorted(content)})"
        if media not in _JSON_TYPES:
            return ""  # text/csv, text/plain: documented as strings
        schema = schema_entry.get("schema")
        if not schema:
            return ""
        try:
            instance = json.loads(body)
        except ValueError:
            return f"{method} {path} {status}: body is not JSON"
        validator = jsonschema.Draft202012Validator(
            _rooted(schema), registry=self.registry, format_checker=None
        )
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path) or "(body)"
            return f"{method} {path} {status}: {where}: {first.message[:300]}"
        return ""

    def component_errors(self, name: str, instance: Any) -> list[str]:
        """Why ``instance`` is not a ``#/components/schemas/<name>`` (empty when it is)."""
        validator = jsonschema.Draft202012Validator(
            _rooted({"$ref": f"#/components/schemas/{name}"}), registry=self.registry
        )
        return [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(body)'}: {e.message[:300]}"
            for e in validator.iter_errors(instance)
        ]


def _rooted(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``#/components/...`` references resolved in the document."""
    text = json.dumps(schema).replace('"#/components/', '"urn:kassa:openapi#/components/')
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _contract_of(app: Any) -> OpenApiContract:
    contract: OpenApiContract | None = getattr(app.state, "openapi_contract", None)
    if contract is None:
        contract = OpenApiContract(app.openapi())
        app.state.openapi_contract = contract
    return contract


class ConformingTransport(httpx.ASGITransport):
    """An ASGI transport that fails the request whose response breaks the contract."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        body = await response.aread()
        problem = _contract_of(self.app).problems(
            request.method,
            request.url.path,
            response.status_code,
            response.headers.get("content-type", ""),
            body,
        )
        if problem:
            raise AssertionError(f"response does not match /openapi.json: {problem}")
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=body,
            request=request,
            extensions=response.extensions,
        )


def api_transport(
    app: Any, *, raise_app_exceptions: bool = False, client: tuple[str, int] = ("127.0.0.1", 123)
) -> ConformingTransport:
    """The transport of every test client of the kassa app (``httpx.ASGITransport``'s
    arguments)."""
    return ConformingTransport(app=app, raise_app_exceptions=raise_app_exceptions, client=client)
