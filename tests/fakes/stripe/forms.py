"""Stripe's form encoding: ``metadata[key]=v``, ``expand[0]=v``, ``a[b][c]=v`` into nested
dicts and lists, as Stripe's API parses a request's body and query string."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class FormError(ValueError):
    """A parameter name Stripe would refuse (unbalanced brackets)."""


def _listify(node: Any) -> Any:
    """Dicts whose keys are all indexes (``expand[0]``, ``expand[]``) become lists."""
    if isinstance(node, dict):
        node = {key: _listify(value) for key, value in node.items()}
        if node and all(isinstance(key, int) for key in node):
            return [node[key] for key in sorted(node)]
    return node


def parse_form(body: str) -> dict[str, Any]:
    root: dict[Any, Any] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        match = _KEY.match(name)
        if match is None:
            raise FormError(name)
        path: list[Any] = [match.group(1)]
        for part in re.findall(r"\[([^\[\]]*)\]", match.group(2)):
            path.append(int(part) if part.isdigit() else part)
        node = root
        for part in path[:-1]:
            node = node.setdefault(len(node) if part == "" else part, {})
            if not isinstance(node, dict):
                raise FormError(name)
        last = path[-1]
        if last == "":
            last = len(node)
        node[last] = value
    return _listify(root)
