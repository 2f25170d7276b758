"""Input guards: no card numbers anywhere, and Stripe's metadata limits.

A card number is a Luhn-valid run of 13-19 digits, possibly grouped with spaces or dashes.
The value found is never echoed back, stored or logged; only where it was (``param``).
"""

from __future__ import annotations

import re
from typing import Any

from kassa.core.errors import InvalidRequest
from kassa.payins.errors import CardNumberRefused

_CANDIDATE = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")
MAX_METADATA_KEYS = 50
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 500


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = ord(char) - 48
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def contains_card_number(text: str) -> bool:
    for match in _CANDIDATE.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def refuse_card_numbers(value: Any, path: str = "") -> None:
    """Raise CardNumberRefused if any string (key or value) in ``value`` holds a card number."""
    if isinstance(value, str):
        if len(value) >= 13 and contains_card_number(value):
            raise CardNumberRefused(param=path or "body")
    elif isinstance(value, int) and not isinstance(value, bool):
        if value >= 10**12:
            refuse_card_numbers(str(value), path)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and len(key) >= 13 and contains_card_number(key):
                raise CardNumberRefused(param=path or "body")
            refuse_card_numbers(item, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            refuse_card_numbers(item, f"{path}.{index}" if path else str(index))


def check_metadata(metadata: dict[str, Any]) -> dict[str, str]:
    """Stripe's limits: 50 keys, keys up to 40 characters, string values up to 500."""
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidRequest(
            f"metadata has at most {MAX_METADATA_KEYS} keys.",
            code="metadata_invalid",
            param="metadata",
        )
    for key, value in metadata.items():
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidRequest(
                f"metadata keys are 1 to {MAX_KEY_LENGTH} characters.",
                code="metadata_invalid",
                param="metadata",
            )
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            raise InvalidRequest(
                f"metadata values are strings of at most {MAX_VALUE_LENGTH} characters.",
                code="metadata_invalid",
                param=f"metadata.{key}",
            )
    return dict(metadata)
