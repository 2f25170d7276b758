"""What no request may carry, checked on the raw request before any route sees it.

One place looks at every part of a request kassa keeps or echoes — the path, the query string,
the headers it stores or sends back (``Idempotency-Key``, ``X-Request-Id``, ``User-Agent``) and
the whole JSON body at any depth — so no field, header or new endpoint can forget a check:

- a card number, in any separator or Unicode digit form (``payins.guard``): 400
  ``card_number_refused``, naming where, never the value;
- NUL and lone UTF-16 surrogates, which PostgreSQL text cannot hold: 400 ``invalid_character``
  (otherwise the database would refuse them and the request would look like an outage); in
  the path, any control character: 404 ``resource_missing`` (no id holds one);
- a body that is not JSON: not UTF-8, ``NaN``/``Infinity``, nested deeper than
  ``MAX_DEPTH``: 400 ``invalid_json``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from kassa.api.errors import INVALID_CHARACTER, INVALID_JSON, status_of
from kassa.core import jsontext
from kassa.core.error_catalog import RESOURCE_MISSING, ErrorCode
from kassa.payins.errors import CARD_NUMBER_REFUSED, CardNumberRefused
from kassa.payins.guard import contains_card_number, refuse_card_numbers

MAX_DEPTH = jsontext.MAX_DEPTH
# Headers kassa stores (Idempotency-Key, User-Agent in audit entries) or echoes (X-Request-Id).
KEPT_HEADERS = ("idempotency-key", "x-request-id", "user-agent")
_HEADER_NAMES = {
    "idempotency-key": "Idempotency-Key",
    "x-request-id": "X-Request-Id",
    "user-agent": "User-Agent",
}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NUL_MESSAGE = "Text may not contain NUL characters (\\u0000)."
_SURROGATE_MESSAGE = "Text must be valid Unicode: a lone surrogate (\\ud800-\\udfff) is not."


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused before any route runs (answered as problem details)."""

    error: ErrorCode[Any]
    detail: str
    param: str | None = None

    @property
    def status(self) -> int:
        return status_of(self.error.kind)

    @property
    def code(self) -> str:
        return self.error.code


def _card_number(param: str) -> Refusal:
    return Refusal(CARD_NUMBER_REFUSED, CardNumberRefused.default_message, param)


def _unstorable(text: str, param: str) -> Refusal | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    message = NUL_MESSAGE if found.group() == "\x00" else _SURROGATE_MESSAGE
    return Refusal(INVALID_CHARACTER, message, param)


def check_path(path: str) -> Refusal | None:
    """The decoded path: no id holds a control character (so there is no such object, and
    the database never sees one), and no path a card number."""
    if any(unicodedata.category(c) == "Cc" for c in path):
        return Refusal(
            RESOURCE_MISSING, "No such object: ids never contain control characters.", "path"
        )
    return _card_number("path") if contains_card_number(path) else None


def check_query(query_string: bytes) -> Refusal | None:
    if not query_string:
        return None
    text = query_string.decode("latin-1")
    if "%00" in text:
        return Refusal(INVALID_CHARACTER, NUL_MESSAGE, None)
    pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace")
    for name, value in pairs:
        if contains_card_number(name):
            return _card_number("query")  # never the name: it is the card number
        if contains_card_number(value):
            return _card_number(name)
    return None


def check_headers(headers: dict[str, str]) -> Refusal | None:
    for name in KEPT_HEADERS:
        value = headers.get(name)
        if value and contains_card_number(value):
            return _card_number(_HEADER_NAMES[name])
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _walk(document: Any) -> Refusal | None:
    """Depth, NUL and surrogates of a parsed JSON document, without recursion."""
    pending: list[tuple[Any, str, int]] = [(document, "", 0)]
    while pending:
        item, where, depth = pending.pop()
        if depth > MAX_DEPTH:
            return Refusal(INVALID_JSON, f"JSON may nest at most {MAX_DEPTH} levels deep.", None)
        if isinstance(item, str):
            refusal = _unstorable(item, where or "body")
            if refusal:
                return refusal
        elif isinstance(item, dict):
            for key, child in item.items():
                refusal = _unstorable(key, where or "body")
                if refusal:
                    return refusal
                pending.append((child, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(item, list):
            pending.extend(
                (child, f"{where}.{i}" if where else str(i), depth + 1)
                for i, child in enumerate(item)
            )
    return None


def check_json_body(body: bytes) -> Refusal | None:
    invalid = "The request body is not valid JSON"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Refusal(INVALID_JSON, f"{invalid}: it is not UTF-8.")
    try:
        document = jsontext.loads(text, max_depth=MAX_DEPTH, parse_constant=_refuse_constant)
    except (RecursionError, jsontext.TooDeep):
        return Refusal(INVALID_JSON, f"JSON may nest at most {MAX_DEPTH} levels deep.")
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers too long
        return Refusal(INVALID_JSON, f"{invalid}: {exc}.")
    try:  # first: a later refusal may name a key, and the key must not be a card number
        refuse_card_numbers(document)
    except CardNumberRefused as exc:
        return _card_number(exc.param or "body")
    return _walk(document)


def check_other_body(body: bytes) -> Refusal | None:
    """A body that is not JSON (the route will refuse it): still no card number in it."""
    text = body.decode("utf-8", errors="replace")
    return _card_number("body") if contains_card_number(text) else None
