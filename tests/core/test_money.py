from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.core.currencies import EXPONENTS
from kassa.core.errors import InvalidMoney
from kassa.core.money import MAX_MINOR, Money

currencies = st.sampled_from(sorted(EXPONENTS))
minor = st.integers(min_value=-(10**15), max_value=10**15)


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("100.00", "USD", 10000),
        ("0.01", "usd", 1),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("7", "EUR", 700),
        ("-2.5", "USD", -250),
    ],
)
def test_parse_uses_each_currencys_exponent(text: str, currency: str, expected: int) -> None:
    assert Money.parse(text, currency).minor == expected


@pytest.mark.parametrize(
    ("text", "currency", "code"),
    [
        ("1.001", "USD", "invalid_amount"),
        ("1.5", "JPY", "invalid_amount"),
        ("1e3", "USD", "invalid_amount"),
        ("abc", "USD", "invalid_amount"),
        ("", "USD", "invalid_amount"),
        ("1.00", "XYZ", "invalid_currency"),
        ("1.00", "usdc", "invalid_currency"),
    ],
)
def test_parse_refuses_what_is_not_money(text: str, currency: str, code: str) -> None:
    with pytest.raises(InvalidMoney) as err:
        Money.parse(text, currency)
    assert err.value.code == code


def test_floats_and_mixed_currencies_are_refused() -> None:
    with pytest.raises(InvalidMoney):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidMoney) as err:
        Money(1, "USD") + Money(1, "EUR")
    assert err.value.code == "currency_mismatch"
    with pytest.raises(TypeError):
        Money(100, "USD").multiply(0.5)  # type: ignore[arg-type]


@given(st.integers(min_value=-MAX_MINOR, max_value=MAX_MINOR), currencies)
def test_format_then_parse_is_identity(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.parse(money.to_decimal_string(), currency) == money


@given(st.integers(min_value=MAX_MINOR + 1), currencies)
def test_amounts_beyond_the_limit_are_refused_when_parsed(amount: int, currency: str) -> None:
    with pytest.raises(InvalidMoney) as err:
        Money.parse(Money(amount, currency).to_decimal_string(), currency)
    assert err.value.code == "amount_too_large"


@given(minor, minor, currencies)
def test_addition_and_subtraction_are_inverse(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y) - y == x
    assert (x + y).minor == a + b


@given(
    st.integers(min_value=0, max_value=10**12),
    st.lists(st.integers(0, 1000), min_size=1, max_size=20).filter(lambda r: sum(r) > 0),
)
def test_allocation_never_loses_or_invents_a_unit(amount: int, ratios: list[int]) -> None:
    parts = Money(amount, "USD").allocate(ratios)
    assert sum(p.minor for p in parts) == amount
    total = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        assert abs(part.minor - amount * ratio / total) <= len(ratios)


@given(st.integers(0, 10**12), st.decimals(min_value=0, max_value=1, places=4))
def test_multiply_rounds_to_a_whole_minor_unit(amount: int, rate: Decimal) -> None:
    result = Money(amount, "USD").multiply(rate)
    assert abs(Decimal(result.minor) - Decimal(amount) * rate) <= Decimal("0.5")
