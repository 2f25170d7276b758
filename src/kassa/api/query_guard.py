"""Unknown query parameters are refused, as unknown body fields are: a typo such as
``?customer=cus_...`` for ``customer_id`` must not silently list everything."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from kassa.api.errors import PARAMETER_UNKNOWN

_KNOWN: dict[int, frozenset[str]] = {}


def _query_names(dependant: Any) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _known(route: APIRoute) -> frozenset[str]:
    names = _KNOWN.get(id(route))
    if names is None:
        names = _KNOWN[id(route)] = frozenset(_query_names(route.dependant))
    return names


async def known_query_only(request: Request) -> None:
    """An app-wide dependency (``create_app`` adds it)."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _known(route))
    if unknown:
        known = ", ".join(sorted(_known(route))) or "none"
        raise PARAMETER_UNKNOWN(
            f"Unknown query parameter {unknown[0]!r}; this endpoint takes: {known}.",
            param=unknown[0],
        )
