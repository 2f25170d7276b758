from __future__ import annotations

from pathlib import Path

import pytest

from kassa.config_check import check_settings
from kassa.core.errors import ConfigurationError
from kassa.core.settings import Settings


def test_database_urls_get_async_drivers(tmp_path: Path) -> None:
    assert Settings(database_url="postgresql://u@h/db").effective_database_url == (
        "postgresql+asyncpg://u@h/db"
    )
    assert Settings(var_dir=tmp_path).effective_database_url == (
        f"sqlite+aiosqlite:///{tmp_path / 'kassa.db'}"
    )


def test_environment_names_from_the_seeds_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_PROVIDER", "rise")
    monkeypatch.setenv("PAYMENT_BATCH_SIZE", "25")
    monkeypatch.setenv("KASSA_PLUGINS", "a.b, c.d")
    settings = Settings()
    assert settings.payment_provider == "rise"
    assert settings.payment_batch_size == 25
    assert settings.plugins == ["a.b", "c.d"]


def test_yaml_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kassa.yaml"
    config.write_text("port: 9000\nlog_level: DEBUG\n")
    monkeypatch.setenv("KASSA_CONFIG_FILE", str(config))
    monkeypatch.setenv("KASSA_LOG_LEVEL", "WARNING")
    settings = Settings()
    assert settings.port == 9000
    assert settings.log_level == "WARNING"


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    settings = Settings(env="production", var_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="KASSA_SECRET_KEY"):
        settings.secret_key_bytes()
    assert any(p.setting == "KASSA_SECRET_KEY" and p.fatal for p in check_settings(settings))


def test_development_generates_and_keeps_a_secret_key(tmp_path: Path) -> None:
    first = Settings(var_dir=tmp_path).secret_key_bytes()
    assert len(first) >= 32
    assert Settings(var_dir=tmp_path).secret_key_bytes() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_config_check_names_what_a_provider_is_missing() -> None:
    problems = check_settings(Settings(payment_provider="rise"))
    assert {p.setting for p in problems} >= {
        "RISE_COMPANY_ID",
        "RISE_WALLET_ADDRESS",
        "RISE_WALLET_PRIVATE_KEY",
    }
    unknown = check_settings(Settings(payment_provider="bogus"))
    assert any(p.setting == "PAYMENT_PROVIDER" for p in unknown)
