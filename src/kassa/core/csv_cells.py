"""CSV for spreadsheets: cells a spreadsheet would run as a formula are made text.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return, which some
spreadsheets skip before looking) is prefixed with ``'`` (OWASP's advice against CSV
injection): a subscription id or a name sent as ``=HYPERLINK(...)`` shows as text. A plain
decimal number (``-12.50``, an adjustment) is left as it is: it is a number, not a formula.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


def safe_cell(value: str) -> str:
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_lines(rows: Iterable[Iterable[str]]) -> str:
    """The rows as CSV text (``\\n`` line ends), every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
