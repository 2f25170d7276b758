"""Prefixed, time-sortable ids: ``pay_01JD2...`` (a ULID after the prefix).

The 26-character ULID is 48 bits of milliseconds and 80 random bits in Crockford base32, so
ids sort by creation time as strings and never collide in practice.
"""

from __future__ import annotations

import base64
import os
import re
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
_ID_RE = re.compile(r"^([a-z][a-z0-9]{0,7})_([0-9A-HJKMNP-TV-Z]{26})$")


_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())


def ulid_chars(value: int) -> str:
    """The 26 Crockford base32 digits of a 128-bit value, most significant first.

    Done by the C base32 encoder (a dozen ids per request): shifted left by 6 bits, the value's
    130-bit digit field starts at the top of 17 bytes, so base32's 5-bit groups line up."""
    encoded = base64.b32encode((value << 6).to_bytes(17, "big"))
    return encoded[:26].translate(_FROM_RFC4648).decode()


class _RandomBits:
    """80-bit random values from the OS CSPRNG, read 4 KiB at a time: one syscall per ~400
    ids instead of one per id (a request creates a dozen)."""

    _SIZE = 10
    _CHUNK = 4096 // _SIZE * _SIZE

    def __init__(self) -> None:
        self._reset()
        # A forked child must neither reuse its parent's bytes nor inherit a held lock.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._buffer = b""
        self._offset = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            if self._offset >= len(self._buffer):
                self._buffer, self._offset = os.urandom(self._CHUNK), 0
            start = self._offset
            self._offset += self._SIZE
            return int.from_bytes(self._buffer[start : self._offset], "big")


_random80 = _RandomBits()


def new_ulid(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return ulid_chars(ms << 80 | _random80.next())


def new_id(prefix: str, now_ms: int | None = None) -> str:
    if not _PREFIX_RE.match(prefix):
        raise ValueError(f"bad id prefix {prefix!r}")
    return f"{prefix}_{new_ulid(now_ms)}"


def has_prefix(value: str, prefix: str) -> bool:
    match = _ID_RE.match(value)
    return bool(match and match.group(1) == prefix)
