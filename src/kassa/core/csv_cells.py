"""CSV for spreadsheets: cells a spreadsheet would run as a formula are made text, and no cell
can start a row of its own.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab, a carriage return or a line feed)
is prefixed with ``'`` (OWASP's advice against CSV injection): a subscription id or a name
sent as ``=HYPERLINK(...)`` shows as text. So is one whose first visible character is such a
sign after blanks or invisible characters (`` =1+1``, ``\\u200b=1+1``: imports that trim
would run them) or is a full-width sign (``＝1+1``), which some spreadsheets read as the
ASCII one. A plain decimal number (``-12.50``, an adjustment) is left as it is: it is a
number, not a formula.

Cells are quoted as RFC 4180 says: a cell holding a comma, a double quote, a carriage return
or a line feed is written in double quotes. (Python's ``csv`` module, with ``\\n`` line ends,
leaves a bare carriage return unquoted, and spreadsheets end a row there: ``a\\r=1+1`` became
a row of its own starting with a formula.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
# blanks and invisible characters a spreadsheet or an import may skip before the first sign
_LEAD = re.compile(r"^[\s\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")
# full-width and small-form signs some spreadsheets take for the ASCII ones
_LOOKALIKES = str.maketrans(
    {
        "\uff1d": "=",
        "\uff0b": "+",
        "\uff0d": "-",
        "\uff20": "@",
        "\ufe66": "=",
        "\ufe62": "+",
        "\ufe63": "-",
        "\ufe6b": "@",
    }
)
_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def safe_cell(value: str) -> str:
    if _NUMBER.fullmatch(value):
        return value
    first_visible = _LEAD.sub("", value)[:1].translate(_LOOKALIKES)
    if value.startswith(_FORMULA_START) or (first_visible and first_visible in _FORMULA_START):
        return "'" + value
    return value


def _field(cell: str) -> str:
    cell = safe_cell(cell)
    if _NEEDS_QUOTES.search(cell):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def csv_lines(rows: Iterable[Iterable[str]]) -> str:
    """The rows as CSV text (``\\n`` line ends), every cell made safe and quoted when it must."""
    return "".join(",".join(_field(cell) for cell in row) + "\n" for row in rows)
