"""Prefixed, time-sortable ids: ``pay_01JD2...`` (a ULID after the prefix).

The 26-character ULID is 48 bits of milliseconds and 80 random bits in Crockford base32, so
ids sort by creation time as strings and never collide in practice.
"""

from __future__ import annotations

import re
import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
_ID_RE = re.compile(r"^([a-z][a-z0-9]{0,7})_([0-9A-HJKMNP-TV-Z]{26})$")


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return _encode(ms, 10) + _encode(secrets.randbits(80), 16)


def new_id(prefix: str, now_ms: int | None = None) -> str:
    if not _PREFIX_RE.match(prefix):
        raise ValueError(f"bad id prefix {prefix!r}")
    return f"{prefix}_{new_ulid(now_ms)}"


def has_prefix(value: str, prefix: str) -> bool:
    match = _ID_RE.match(value)
    return bool(match and match.group(1) == prefix)
