"""JSON from strangers, parsed without letting its nesting reach the C stack.

``json.loads`` recurses once per level of nesting, in C, bounded only by the interpreter's
recursion limit — which a dependency may raise (py_ecc, under eth-account, sets 100,000 at
import), and then a body of 100,000 ``[`` overflows the C stack and kills the process (a
segmentation fault, not an exception). So the nesting is measured first, without recursion:
a text with no more brackets than the limit cannot be too deep (the common case, two counts);
otherwise its brackets outside strings are walked until the limit is passed.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


class TooDeep(ValueError):
    """The JSON text nests deeper than allowed."""


def depth_exceeds(text: str, max_depth: int = MAX_DEPTH) -> bool:
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif char in "]}":
            depth -= 1
    return False


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, **options: Any) -> Any:
    """``json.loads`` for untrusted text: TooDeep beyond ``max_depth`` levels."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8")
    if depth_exceeds(text, max_depth):
        raise TooDeep(f"JSON may nest at most {max_depth} levels deep")
    return json.loads(text, **options)
