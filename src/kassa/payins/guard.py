"""Input guards: no card numbers anywhere, and Stripe's metadata limits.

A card number (a primary account number) is a Luhn-valid run of 13-19 digits. People and
programs write one in many ways, so text is normalised before it is looked at:

- NFKC (fullwidth digits, superscripts, no-break spaces), then every Unicode decimal digit is
  read as its ASCII digit (Arabic-Indic, Devanagari, ...);
- invisible characters (zero-width spaces and joiners, soft hyphens, other format characters)
  and combining marks are dropped;
- groups of digits with at most two separators between them (whitespace, dashes, ``. / _ , :``
  and other punctuation) are one run, and every stretch of whole groups holding 13-19 digits
  (leading zeros aside) is checked, so a number followed by its expiry date is still found.

kassa's own ids (``pay_`` and 26 Crockford base32 characters) are never card numbers: their
time and random parts may hold a long digit run by chance (a Luhn-valid one about once in a few
million ids), and kassa must never refuse the ids it handed out. EVM addresses and transaction
hashes (``0x`` and 40 or 64 hex digits) are opaque for the same reason: they are hash outputs,
and about one address in 200 holds a Luhn-valid run of digits; so are hex tokens of 20 or more
characters with a letter among them (``uuid4().hex`` idempotency keys, hashes). So that ordinary values pass,
a few shapes never join digits across their own punctuation: canonical UUIDs (the usual
idempotency keys), dates and ISO 8601 times (a long run of digits
inside them is still checked), and decimal amounts such as ``"999999999999.99"``. A run
starting with 1 is a card number only with 15 digits (UATP): 13, 16 and 19 digits starting with
1 are Unix times in milliseconds, microseconds and nanoseconds.

Percent-encoded text (a URL's ``%34%32...``) is looked at decoded too. The value found is never echoed back, stored or logged; only where it was (``param``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import unquote

from kassa.payins.errors import METADATA_INVALID, CardNumberRefused

MIN_DIGITS = 13
MAX_DIGITS = 19
MAX_METADATA_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500

_INVISIBLE = frozenset({"Cf", "Mn", "Me", "Cc"})  # format, combining and control characters
_PUNCTUATION = frozenset({"Pd", "Pc", "Po"})  # dashes, connectors (_), other (. , / : ...)
# ASCII characters that may stand between groups of a card number's digits.
_JOINERS = str.maketrans(dict.fromkeys("-._/\\,:;|*+~#'!", " "))
_UUID = re.compile(
    r"(?<![0-9A-Za-z])[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}(?![0-9A-Za-z])"
)
# kassa's ids (core.ids): a lowercase prefix, "_", a ULID; bounded so "x_" + digits is not one.
_KASSA_ID = re.compile(
    r"(?<![0-9A-Za-z_])[a-z][a-z0-9]{0,7}_[0-7][0-9A-HJKMNP-TV-Z]{25}(?![0-9A-Za-z])"
)
# EVM addresses and transaction hashes (0x + 40 or 64 hex): hash outputs, so a random one holds
# a Luhn-valid run of 13+ digits about once in 200; kassa must take the addresses it pays.
_EVM_HEX = re.compile(r"(?<![0-9A-Za-z])0[xX](?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40})(?![0-9A-Za-z])")
# Hex tokens of 20+ characters with a letter in them (``uuid4().hex`` keys, hashes, random
# tokens): in hex, digits are 10 of 16 characters, so about 3 in 1,000 random 32-character
# tokens hold a Luhn-valid run of 13+ digits, and a client retrying with its key would be
# refused forever. A card number written by a person stands apart from the letters around it.
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{20,}(?![0-9A-Za-z])")
_ISO_TIME = re.compile(
    r"(?<!\d)\d{4}(?P<sep>[-/.])(?:0[1-9]|1[0-2])(?P=sep)(?:0[1-9]|[12]\d|3[01])"
    r"(?:[T ](?:[01]\d|2[0-4]):[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
    r"(?!\d)"
)
_NUMERIC_DATE = re.compile(
    r"(?<!\d)(?:0?[1-9]|[12]\d|3[01])([./-])(?:0?[1-9]|[12]\d|3[01])\1(?:19|20)\d{2}(?!\d)"
)
_DECIMAL = re.compile(r"(?<![\d.,])\d+[.,]\d{1,3}(?![\d]|[.,]\d)")
_WHITESPACE = re.compile(r"\s+")
_CONTROLS = str.maketrans(dict.fromkeys([*range(0x09), *range(0x0E, 0x20), 0x7F]))
_RUN = re.compile(r"[0-9]+(?: {1,2}[0-9]+)*")
_DIGITS = "0123456789"
_ANY_DIGIT = re.compile(r"\d")  # every Unicode decimal digit


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _unicode_to_ascii(text: str) -> str:
    """Unicode digits as ASCII digits, invisible characters dropped (``text`` is NFKC)."""
    out = []
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        category = unicodedata.category(char)
        if category == "Nd":
            out.append(str(unicodedata.decimal(char)))
        elif char.isspace():
            out.append(" ")
        elif category in _PUNCTUATION:
            out.append(".")
        elif category not in _INVISIBLE:
            out.append(char)
    return "".join(out)


def _ours(match: re.Match[str]) -> str:
    """One of kassa's ids: opaque, digits included (kassa made them)."""
    return "x" * len(match.group())


def _opaque(match: re.Match[str]) -> str:
    """A date, time or UUID: its punctuation separates, never joins (digits stay checked)."""
    return re.sub(r"[^0-9]", "x", match.group())


def _is_card_number(digits: str) -> bool:
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return False
    if digits[0] == "1" and len(digits) != 15:  # Unix times; UATP cards have 15 digits
        return False
    return luhn_valid(digits)


def _run_holds_card_number(run: str) -> bool:
    groups = run.split()
    for start, first in enumerate(groups):
        digits = first.lstrip("0")  # leading zeros are never part of a card number
        if not digits:
            continue
        if _is_card_number(digits):
            return True
        for group in groups[start + 1 :]:
            digits += group
            if len(digits) > MAX_DIGITS:
                break
            if _is_card_number(digits):
                return True
    return False


def contains_card_number(text: str) -> bool:
    # A URL may carry the digits percent-encoded (%34%32...).
    return _holds_card_number(text) or ("%" in text and _holds_card_number(unquote(text)))


def _holds_card_number(text: str) -> bool:
    if text.isascii():
        if sum(map(text.count, _DIGITS)) < MIN_DIGITS:
            return False  # the common case, decided without building anything
    else:
        text = unicodedata.normalize("NFKC", text)
        if len(_ANY_DIGIT.findall(text)) < MIN_DIGITS:
            return False
        text = _unicode_to_ascii(text)
    text = _KASSA_ID.sub(_ours, text.translate(_CONTROLS))
    for shape in (_EVM_HEX, _HEX_TOKEN):
        text = shape.sub(_ours, text)
    for shape in (_UUID, _ISO_TIME, _NUMERIC_DATE, _DECIMAL):
        text = shape.sub(_opaque, text)
    text = _WHITESPACE.sub(" ", text).translate(_JOINERS)
    return any(_run_holds_card_number(m.group()) for m in _RUN.finditer(text))


def refuse_card_numbers(value: Any, path: str = "") -> None:
    """Raise CardNumberRefused if any string (key or value) in ``value`` holds a card number.

    Walks without recursion: the depth of a JSON document is the client's to choose."""
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, str):
            if contains_card_number(item):
                raise CardNumberRefused(param=where or "body")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int | float):
            text = repr(item)
            if len(text) >= MIN_DIGITS and contains_card_number(text):
                raise CardNumberRefused(param=where or "body")
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and contains_card_number(key):
                    raise CardNumberRefused(param=where or "body")
                pending.append((child, child_path))
        elif isinstance(item, list | tuple):
            pending.extend(
                (child, f"{where}.{i}" if where else str(i)) for i, child in enumerate(item)
            )


def check_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """Stripe's limits: 50 keys, keys up to 40 characters, string values up to 500."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise METADATA_INVALID(
            f"metadata has at most {MAX_METADATA_KEYS} keys.",
            param="metadata",
        )
    for key, value in metadata.items():
        if not key or len(key) > MAX_KEY_LENGTH:
            raise METADATA_INVALID(
                f"metadata keys are 1 to {MAX_KEY_LENGTH} characters.",
                param="metadata",
            )
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            raise METADATA_INVALID(
                f"metadata values are strings of at most {MAX_VALUE_LENGTH} characters.",
                param=f"metadata.{key}",
            )
    return dict(metadata)
