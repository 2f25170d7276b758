"""What may be shown of credentials: non-secret fields in clear, secrets only as a hint.

A hint keeps a recognisable prefix (``sk_test_``, ``whsec_``) and, of a long secret, its last
four characters (``sk_test_…4242``), as provider dashboards do; a short secret shows no tail,
so a hint never gives away a meaningful share of one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kassa.providers.credentials import CredentialsSpec

_PREFIX = re.compile(r"^(?:[A-Za-z]{2,8}_(?:test|live)_|[A-Za-z]{2,8}_)")
_TAIL_FROM = 16  # characters: shorter secrets show no tail
HIDDEN = "…"


def hint(secret: str) -> str:
    prefix = _PREFIX.match(secret)
    head = prefix.group(0) if prefix and len(secret) >= 12 else ""
    tail = secret[-4:] if len(secret) >= _TAIL_FROM else ""
    return f"{head}{HIDDEN}{tail}"


def display_of(spec: CredentialsSpec, fields: Mapping[str, str]) -> dict[str, Any]:
    """``{"fields": {name: value}, "secrets": {name: hint}}``, names sorted."""
    shown = {n: v for n, v in sorted(fields.items()) if n not in spec.secret}
    secrets = {n: hint(v) for n, v in sorted(fields.items()) if n in spec.secret}
    return {"fields": shown, "secrets": secrets}
