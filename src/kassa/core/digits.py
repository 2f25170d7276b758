"""Digits as the wire means them: ASCII ``0``-``9`` only.

``str.isdigit()`` is true for every Unicode digit (``²``, ``١``, ``𝟙``...), some of which
``int()`` refuses (superscripts raise ``ValueError``) and others it reads as numbers no client
meant. A header, a token or a setting checked with ``isdigit()`` and then passed to ``int()``
is a 500 waiting for one byte (``t=\\xb2`` in a latin-1 header), and so is a run of more
than 4300 digits (``int()``'s limit against quadratic parsing). Check with this instead.
"""

from __future__ import annotations

MAX_DIGITS = 18  # any count, size, time or delay on the wire; int() of it is an int64


def ascii_digits(value: str, max_digits: int = MAX_DIGITS) -> bool:
    """True when ``value`` is one to ``max_digits`` ASCII digits, so ``int(value)`` always
    works (and is of a sane size)."""
    return len(value) <= max_digits and value.isascii() and value.isdigit()
