"""Untrusted JSON never reaches the C stack, whatever the recursion limit is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kassa.core import jsontext


def test_depth_is_measured_outside_strings() -> None:
    assert not jsontext.depth_exceeds('{"a": "[[[[[[[[[["}', max_depth=2)
    assert not jsontext.depth_exceeds("[[1], [2], [3], [4]]", max_depth=2)
    assert jsontext.depth_exceeds("[[[1]]]", max_depth=2)
    assert jsontext.depth_exceeds('[["\\"", [1]]]', max_depth=2)
    assert jsontext.loads(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    with pytest.raises(jsontext.TooDeep):
        jsontext.loads("[" * 65 + "]" * 65)


def test_a_deep_body_is_refused_even_with_a_raised_recursion_limit() -> None:
    """py_ecc (under eth-account) raises the limit to 100,000 at import: json.loads of 100,000
    nested arrays then overflows the C stack and the process dies (no exception)."""
    script = (
        "import sys; sys.setrecursionlimit(100_000)\n"
        "from kassa.core import jsontext\n"
        "try:\n"
        "    jsontext.loads('[' * 100_000 + ']' * 100_000)\n"
        "except jsontext.TooDeep:\n"
        "    print('refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "refused", done.stderr[-500:]
