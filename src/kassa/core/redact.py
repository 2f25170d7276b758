"""Removes secrets from structures before they are logged or audited."""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY_RE = re.compile(
    r"(pass(word)?|secret|token|authorization|api[_-]?key|private[_-]?key|cookie|card[_-]?number|cvc|cvv)",
    re.IGNORECASE,
)
_SECRET_VALUE_RE = re.compile(r"\b(sk_(test|live)_[A-Za-z0-9]+|whsec_[A-Za-z0-9+/=]+)")
REDACTED = "[redacted]"


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys and values replaced."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEY_RE.search(k) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_VALUE_RE.sub(REDACTED, value)
    return value
