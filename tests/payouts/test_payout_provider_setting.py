"""Which provider pays affiliates (decision 0011): KASSA_PAYOUT_PROVIDER, else seed 000's
PAYMENT_PROVIDER=rise or RISE_* credentials mean Rise, else the mock; pay-ins keep reading
PAYMENT_PROVIDER, and its seed-000 value ``rise`` leaves them on their default."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from kassa.config_check import check_settings, summary
from kassa.core.settings import Settings
from kassa.payouts.provider import payout_provider
from kassa.providers.payout_mock import MockPayoutProvider
from kassa.providers.registry import build_registry
from kassa.providers.rise.provider import RisePayoutProvider

WALLET = Account.create()
RISE = {
    "RISE_COMPANY_ID": Account.create().address,
    "RISE_WALLET_ADDRESS": WALLET.address,
    "RISE_WALLET_PRIVATE_KEY": "0x" + bytes(WALLET.key).hex(),
}


def settings_of(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Settings:
    for name in ("KASSA_PAYOUT_PROVIDER", "PAYMENT_PROVIDER", *RISE):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KASSA_VAR_DIR", str(tmp_path))
    (tmp_path / "kassa.yaml").write_text("{}\n")  # no settings file of the machine's
    monkeypatch.setenv("KASSA_CONFIG_FILE", str(tmp_path / "kassa.yaml"))
    return Settings()


def row(settings: Settings) -> str:
    return dict(summary(settings))["payout provider"]


def test_no_settings_pay_out_by_mock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_of(monkeypatch, tmp_path)
    assert settings.payout_provider.name == "mock"
    assert isinstance(payout_provider(settings), MockPayoutProvider)
    assert row(settings) == "mock (default): moves no money"
    assert not [p for p in check_settings(settings) if p.fatal]


def test_seed_000_configuration_pays_out_through_rise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_of(monkeypatch, tmp_path, PAYMENT_PROVIDER="rise", **RISE)
    assert settings.payout_provider.name == "rise"
    assert isinstance(payout_provider(settings), RisePayoutProvider)
    assert row(settings) == "rise (PAYMENT_PROVIDER=rise, seed 000)"
    # pay-ins: rise takes no payments, so their default stays the mock and kassa starts
    assert settings.payin_default_provider == "mock"
    assert build_registry(settings).default == "mock"
    assert not [p for p in check_settings(settings) if p.fatal]


def test_seed_000_without_rise_credentials_is_refused_by_config_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_of(monkeypatch, tmp_path, PAYMENT_PROVIDER="rise")
    fatal = {p.setting for p in check_settings(settings) if p.fatal}
    assert fatal == set(RISE)


def test_rise_credentials_alone_never_fall_back_to_the_mock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_of(monkeypatch, tmp_path, **RISE)
    assert settings.payout_provider.name == "rise"
    assert row(settings) == "rise (RISE_* credentials are set)"
    assert settings.payin_default_provider == "mock"


def test_kassa_payout_provider_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_of(
        monkeypatch, tmp_path, KASSA_PAYOUT_PROVIDER="mock", PAYMENT_PROVIDER="rise", **RISE
    )
    assert settings.payout_provider.name == "mock"
    assert row(settings) == "mock (KASSA_PAYOUT_PROVIDER): moves no money"
    chosen = settings_of(monkeypatch, tmp_path, KASSA_PAYOUT_PROVIDER="rise", **RISE)
    assert chosen.payout_provider.name == "rise"
    assert isinstance(payout_provider(chosen), RisePayoutProvider)


def test_pay_ins_read_payment_provider_as_before(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_of(monkeypatch, tmp_path, PAYMENT_PROVIDER="mock_b")
    assert settings.payin_default_provider == "mock_b"
    assert build_registry(settings).default == "mock_b"
    assert settings.payout_provider.name == "mock"


def test_unknown_payout_provider_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="KASSA_PAYOUT_PROVIDER"):
        settings_of(monkeypatch, tmp_path, KASSA_PAYOUT_PROVIDER="wise")


def test_the_mock_in_production_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = settings_of(monkeypatch, tmp_path)
    warned = [p for p in check_settings(settings.model_copy(update={"env": "production"}))]
    assert any(p.setting == "KASSA_PAYOUT_PROVIDER" and not p.fatal for p in warned)
