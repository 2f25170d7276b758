"""The error catalog: every stable error ``code`` kassa can answer with, its kind and meaning.

A code is declared once, in the ``errors.py`` of the context that raises it (``declare``), and
raised through its entry: ``raise PAYMENT_NOT_REFUNDABLE("...")``, never with the code as a
string literal at the raise site. The kind (a class of the tree in ``core/errors.py``)
decides the HTTP status in the API layer, so this module stays free of HTTP. docs/errors.md and the
OpenAPI problem schema are generated from the catalog; tests keep both in sync and refuse
code literals outside declarations.

One code has one kind, with one deliberate exception spelled ``variant``: the same code with
another kind, when one condition is reported at two statuses (``resource_missing`` is 404 for
an id and 400 for a list cursor).

Core's own codes are declared here: every class of the tree (its default code) and the codes
``core.money`` raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kassa.core import errors as e

K = TypeVar("K", bound=e.KassaError)
V = TypeVar("V", bound=e.KassaError)


@dataclass(frozen=True)
class ErrorCode(Generic[K]):
    code: str
    kind: type[K]
    meaning: str

    def __call__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> K:
        """The error to raise: ``kind`` with this code (``message`` defaults to the meaning)."""
        return self.kind(message or self.meaning, code=self.code, param=param, details=details)

    def variant(self, kind: type[V], meaning: str) -> ErrorCode[V]:
        """The same code declared with another kind (and so another status)."""
        return _add(ErrorCode(self.code, kind, meaning))


CATALOG: dict[tuple[str, type[e.KassaError]], ErrorCode[Any]] = {}


def _add(entry: ErrorCode[K]) -> ErrorCode[K]:
    known = CATALOG.get((entry.code, entry.kind))
    if known is not None:
        if known != entry:
            raise ValueError(f"error code {entry.code!r} is declared twice, with two meanings")
        return known
    CATALOG[entry.code, entry.kind] = entry
    return entry


def declare(code: str, kind: type[K], meaning: str) -> ErrorCode[K]:
    """Add ``code`` to the catalog. A second kind for a known code is a programming error
    (``variant`` says it on purpose)."""
    for known_code, known_kind in CATALOG:
        if known_code == code and known_kind is not kind:
            raise ValueError(f"error code {code!r} is declared as {known_kind.__name__} already")
    return _add(ErrorCode(code, kind, meaning))


def declare_kind(kind: type[K], meaning: str | None = None) -> ErrorCode[K]:
    """The default code of an error class (``code`` class attribute): raise the class itself."""
    return declare(kind.code, kind, meaning or kind.default_message)


def find(code: str, kind: type[K]) -> ErrorCode[K] | None:
    """The entry of ``code`` declared with exactly ``kind``, if any."""
    return CATALOG.get((code, kind))


def entry_of(kind: type[K]) -> ErrorCode[K]:
    """The entry of an error class's own default code (declared with ``declare_kind``)."""
    return CATALOG[kind.code, kind]


def all_codes() -> list[ErrorCode[Any]]:
    """Every entry, by code (a code with variants once per kind)."""
    return sorted(CATALOG.values(), key=lambda c: (c.code, c.kind.__name__))


def code_names() -> list[str]:
    """Every distinct code, sorted (the OpenAPI ``code`` enum)."""
    return sorted({entry.code for entry in CATALOG.values()})


_MEANINGS: dict[type[e.KassaError], str] = {
    e.InvalidRequest: (
        "Malformed, missing or unknown fields or values (`param` names the field; `errors` "
        "lists each); a value the database cannot store."
    ),
    e.InvalidMoney: (
        "An amount that is not a decimal string of ASCII digits, or has too many decimals."
    ),
    e.NotFound: "No such object for your account (also an id holding a control character).",
    e.Conflict: "A concurrent change conflicted with this request: retry it.",
    e.InvalidStateTransition: "The object's state forbids the action.",
    e.IdempotencyError: "The same `Idempotency-Key` was sent with other parameters.",
    e.IdempotencyInFlight: "A request with the same `Idempotency-Key` is still running.",
    e.AuthenticationFailed: "Malformed credentials (`Basic` credentials that do not decode).",
    e.PermissionDenied: "The credentials may not do this (audited).",
    e.RateLimited: "Too many requests: wait `Retry-After` seconds.",
    e.MethodNotAllowed: "The path exists, the method does not (`Allow` lists those it takes).",
    e.PayloadTooLarge: "The body is over `KASSA_MAX_BODY_BYTES`.",
    e.UnsupportedMediaType: (
        "A body sent without `Content-Type: application/json` (curl `-d` sends form "
        "encoding; use `--json` or add the header)."
    ),
    e.InternalError: (
        "Our fault; nothing was changed. Quote the `request_id` (every response carries it)."
    ),
    e.ConfigurationError: "kassa's settings cannot work; nothing was changed.",
    e.ServiceUnavailable: "The database cannot serve now: retry after `Retry-After` seconds.",
}


def _declare_tree() -> None:
    """The default code of every class of the core tree is a code of its own."""
    pending: list[type[e.KassaError]] = [e.KassaError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not e.KassaError and cls.__module__ == e.__name__:
            declare_kind(cls, _MEANINGS.get(cls))


_declare_tree()

RESOURCE_MISSING = entry_of(e.NotFound)
# core.money
INVALID_CURRENCY = declare("invalid_currency", e.InvalidMoney, "Not an ISO 4217 currency code.")
AMOUNT_TOO_LARGE = declare(
    "amount_too_large",
    e.InvalidMoney,
    "A capture above the authorized amount, a refund above what is left, any amount above "
    "999,999,999,999.99 (10^14 - 1 minor units).",
)
CURRENCY_MISMATCH = declare(
    "currency_mismatch",
    e.InvalidMoney,
    "A capture or refund in another currency than the payment's.",
)
