"""Money: integer minor units plus an ISO 4217 currency. Floats never touch money."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from kassa.core.currencies import exponent, is_currency
from kassa.core.error_catalog import AMOUNT_TOO_LARGE, CURRENCY_MISMATCH, INVALID_CURRENCY
from kassa.core.errors import InvalidMoney

# ASCII digits only, nothing around them: "١٠" or " 1.00" is not an amount a client meant.
_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def normalize_currency(code: str) -> str:
    """Upper-case ``code`` and check it is an ISO 4217 currency."""
    if not isinstance(code, str) or not is_currency(code.upper()):
        raise INVALID_CURRENCY(
            f"Unknown currency {code!r}; use an ISO 4217 code such as USD.",
            param="currency",
        )
    return code.upper()


# The largest amount accepted from outside, in minor units (999,999,999,999.99 in a 2-decimal
# currency): far above any single payment, and sums of many stay within 64-bit storage.
MAX_MINOR = 10**14 - 1


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents for USD, yen for JPY, fils for KWD) of one currency."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise InvalidMoney("Money amounts are whole numbers of minor units.")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    # -- parsing and formatting -------------------------------------------------------------
    @classmethod
    def parse(cls, value: str, currency: str) -> Money:
        """Parse a decimal string such as ``"100.00"`` in ``currency``.

        Refuses floats, exponents, and more decimals than the currency has.
        """
        code = normalize_currency(currency)
        if not isinstance(value, str) or not _DECIMAL_RE.fullmatch(value):
            raise InvalidMoney(
                f'Amount {value!r} must be a decimal string of ASCII digits like "100.00".',
                param="value",
            )
        text = value
        places = exponent(code)
        decimals = len(text.split(".", 1)[1]) if "." in text else 0
        if decimals > places:
            raise InvalidMoney(
                f"{code} amounts have at most {places} decimal places; got {text!r}.",
                param="value",
            )
        try:
            scaled = Decimal(text).scaleb(places)
        except InvalidOperation as exc:  # pragma: no cover - regex already guards this
            raise InvalidMoney(f"Amount {value!r} is not a number.", param="value") from exc
        minor = int(scaled)
        if abs(minor) > MAX_MINOR:
            limit = cls(MAX_MINOR, code).to_decimal_string()
            raise AMOUNT_TOO_LARGE(
                f"Amounts are limited to {limit} {code}; got {text!r}.",
                param="value",
            )
        return cls(minor, code)

    def to_decimal_string(self) -> str:
        places = exponent(self.currency)
        sign = "-" if self.minor < 0 else ""
        digits = str(abs(self.minor))
        if places == 0:
            return sign + digits
        digits = digits.rjust(places + 1, "0")
        return f"{sign}{digits[:-places]}.{digits[-places:]}"

    def to_json(self) -> dict[str, Any]:
        return {"value": self.to_decimal_string(), "currency": self.currency}

    def __str__(self) -> str:
        return f"{self.to_decimal_string()} {self.currency}"

    # -- arithmetic ---------------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money only combines with Money.")
        if other.currency != self.currency:
            raise CURRENCY_MISMATCH(f"Cannot combine {self.currency} and {other.currency}.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def is_positive(self) -> bool:
        return self.minor > 0

    def is_zero(self) -> bool:
        return self.minor == 0

    def multiply(self, factor: Decimal | int, *, rounding: str = "ROUND_HALF_EVEN") -> Money:
        """Multiply by an exact factor (a rate), rounding to a whole minor unit."""
        if isinstance(factor, float):
            raise TypeError("Use Decimal, not float, for money factors.")
        product = (Decimal(self.minor) * Decimal(factor)).quantize(Decimal(1), rounding=rounding)
        return Money(int(product), self.currency)

    def allocate(self, ratios: list[int]) -> list[Money]:
        """Split into parts proportional to ``ratios`` without losing or inventing a unit."""
        if not ratios or any(r < 0 for r in ratios) or sum(ratios) == 0:
            raise InvalidMoney("Allocation ratios must be non-negative and not all zero.")
        total = sum(ratios)
        parts = [self.minor * r // total for r in ratios]
        remainder = self.minor - sum(parts)
        for i in range(abs(remainder)):
            parts[i % len(parts)] += 1 if remainder > 0 else -1
        return [Money(p, self.currency) for p in parts]

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)
