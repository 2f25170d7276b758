"""Chains and tokens from the settings; USD as token base units, exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kassa.chain.config import chains_of, describe, shown_url
from kassa.chain.units import base_units_to_text, usd_to_base_units
from kassa.core.errors import ConfigurationError, InvalidRequest
from kassa.core.money import Money
from kassa.core.settings import Settings

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _settings(**chain: object) -> Settings:
    raw = {"chain_id": 137, "rpc_urls": ["https://rpc.example/v2/KEY"], **chain}
    return Settings(chains={"polygon": raw})


def test_usual_confirmations_and_lower_case_token_addresses() -> None:
    polygon = chains_of(_settings(tokens={"USDC": {"address": TOKEN}}))["polygon"]
    assert polygon.confirmations == 64  # seed 002's Polygon default
    assert polygon.token("USDC") is not None
    assert polygon.token_at(TOKEN.upper().replace("0X", "0x")) == polygon.token("USDC")
    assert polygon.tokens[0].address == TOKEN.lower() and polygon.tokens[0].decimals == 6
    overridden = chains_of(_settings(confirmations=12))["polygon"]
    assert overridden.confirmations == 12


def test_an_unknown_chain_must_name_its_confirmations() -> None:
    with pytest.raises(ConfigurationError, match="confirmations is required"):
        chains_of(Settings(chains={"other": {"chain_id": 5, "rpc_urls": ["http://n"]}}))


def test_rpc_urls_are_shown_without_their_keys() -> None:
    assert shown_url("https://polygon-mainnet.g.alchemy.com/v2/SECRET") == (
        "https://polygon-mainnet.g.alchemy.com/(path hidden)"
    )
    assert shown_url("https://user:pw@node.example:8545") == "https://node.example:8545"
    assert shown_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    line = describe(chains_of(_settings())["polygon"])
    assert "KEY" not in line and "64 confirmations" in line


def test_usd_becomes_token_base_units_exactly() -> None:
    assert usd_to_base_units(Money.parse("12.34", "USD"), 6) == 12_340_000
    assert usd_to_base_units(Money.parse("0.01", "USD"), 18) == 10**16
    assert base_units_to_text(12_340_001, 6) == "12.340001"
    with pytest.raises(InvalidRequest):
        usd_to_base_units(Money.parse("1.00", "EUR"), 6)
    with pytest.raises(InvalidRequest):
        usd_to_base_units(Money.parse("1.00", "USD"), 1)


@given(cents=st.integers(min_value=0, max_value=10**15), decimals=st.integers(2, 36))
def test_base_units_round_trip_through_text(cents: int, decimals: int) -> None:
    units = usd_to_base_units(Money(cents, "USD"), decimals)
    text = base_units_to_text(units, decimals)
    whole, _, fraction = text.partition(".")
    assert int(whole) * 10**decimals + int(fraction) == units
    assert text.startswith(f"{cents // 100}.{cents % 100:02d}")
