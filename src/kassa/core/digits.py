"""Digits as the wire means them: ASCII ``0``-``9`` only.

``str.isdigit()`` is true for every Unicode digit (``²``, ``١``, ``𝟙``...), some of which
``int()`` refuses (superscripts raise ``ValueError``) and others it reads as numbers no client
meant. A header, a token or a setting checked with ``isdigit()`` and then passed to ``int()``
is a 500 waiting for one byte (``t=\\xb2`` in a latin-1 header). Check with this instead.
"""

from __future__ import annotations


def ascii_digits(value: str) -> bool:
    """True when ``value`` is one or more ASCII digits, so ``int(value)`` always works."""
    return value.isascii() and value.isdigit()
