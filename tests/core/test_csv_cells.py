"""CSV cells a spreadsheet would run, or split into rows of its own, are made harmless."""

from __future__ import annotations

import csv
import io
import re

import pytest

from kassa.core.csv_cells import csv_lines, safe_cell

# How a spreadsheet may read a line: a bare CR or LF outside quotes ends a row (Excel and
# LibreOffice take CR, LF and CRLF alike), and a cell starting with one of these is a formula.
_ROW_BREAK = re.compile(r"\r\n|\r|\n")
_FORMULA = ("=", "+", "-", "@")


def unquoted_row_starts(text: str) -> list[str]:
    """The first characters of every row a lenient reader sees, breaking rows at CR or LF
    outside quotes."""
    starts, in_quotes, at_row_start = [], False, True
    for ch in text:
        if at_row_start and not in_quotes:
            starts.append(ch)
            at_row_start = False
        if ch == '"':
            in_quotes = not in_quotes
        elif ch in "\r\n" and not in_quotes:
            at_row_start = True
    return starts


@pytest.mark.parametrize(
    "evil",
    [
        'a\r=HYPERLINK("http://evil.example","x")',
        "a\r\n@SUM(1+1)",
        "a\n+1+1",
        "'\r=1+1",
        "x\r-2+3",
    ],
)
def test_a_line_break_inside_a_cell_never_starts_a_row(evil: str) -> None:
    text = csv_lines([["com_1", evil, "2.50"]])
    for start in unquoted_row_starts(text):
        assert start not in _FORMULA, repr(text)
    # and the cell reads back as it was (a real CSV reader, RFC 4180 quoting)
    [row] = list(csv.reader(io.StringIO(text, newline="")))
    assert row == ["com_1", safe_cell(evil), "2.50"]


@pytest.mark.parametrize(
    "evil",
    [
        "=1+1",
        "+1",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "\n=1",
        " =1+1",  # leading blanks, trimmed by some imports
        "\u00a0=1+1",
        "\u200b=1+1",  # invisible characters before the sign
        "\ufeff=1+1",
        "\uff1d1+1",  # full-width signs, read as formulas by some spreadsheets
        "\uff0b1+1",
        "\uff0d1+1",
        "\uff20SUM(1)",
        "-1+1",
        "-1e5",
    ],
)
def test_formula_starts_are_made_text(evil: str) -> None:
    assert safe_cell(evil) == "'" + evil


@pytest.mark.parametrize("plain", ["-12.50", "-1", "12.50", "sub_1=2", "ada", "", "a b"])
def test_plain_cells_and_negative_numbers_stay(plain: str) -> None:
    assert safe_cell(plain) == plain


def test_rows_end_in_newlines_and_quote_only_what_needs_it() -> None:
    text = csv_lines([["a", "b,c", 'say "hi"', ""], ["1", "2", "3", "4"]])
    assert text == 'a,"b,c","say ""hi""",\n1,2,3,4\n'
    assert _ROW_BREAK.split(text.rstrip("\n")) == ['a,"b,c","say ""hi""",', "1,2,3,4"]
