"""Removes secrets from structures and text before they are logged, audited or printed.

Three kinds of secret are recognised: values under a secret-looking key (``password``,
``token``, ...), kassa's own secrets by their prefix (``sk_live_...``, ``whsec_...``), and
credentials written into text: the password of a URL (``postgresql://user:pw@host`` becomes
``postgresql://user:***@host``) and ``password=...`` pairs (DSNs, query strings).
"""

from __future__ import annotations

import re
from typing import Any

_SECRET_KEY_RE = re.compile(
    r"(pass(word)?|secret|token|authorization|api[_-]?key|private[_-]?key|cookie|card[_-]?number|cvc|cvv)",
    re.IGNORECASE,
)
_SECRET_VALUE_RE = re.compile(r"\b(sk_(test|live)_[A-Za-z0-9]+|whsec_[A-Za-z0-9+/=]+)")
# scheme://user:password@host: the password runs to the last "@" of the word, so one with an
# unescaped "@" in it is still hidden whole. Quotes and brackets end a word (reprs, JSON).
_URL_PASSWORD_RE = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s'\"<>]*):(?P<password>[^\s'\"<>]*)@"
)
_PAIR_PASSWORD_RE = re.compile(r"(?P<head>\b(?:password|passwd|pwd)=)[^\s&;,'\"]+", re.IGNORECASE)
REDACTED = "[redacted]"
MASK = "***"


def mask_credentials(text: str) -> str:
    """``text`` with the password of every URL and every ``password=`` pair masked."""
    if "@" in text:
        text = _URL_PASSWORD_RE.sub(rf"\g<head>:{MASK}@", text)
    if "=" in text:
        text = _PAIR_PASSWORD_RE.sub(rf"\g<head>{MASK}", text)
    return text


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
        return mask_credentials(_SECRET_VALUE_RE.sub(REDACTED, value))
    return value
