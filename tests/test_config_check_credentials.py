"""`kassa config check` on the install's provider credentials: each enabled provider's mode,
its secrets as hints only, and a refusal naming what is missing or wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers import kassa_env, run_kassa

PLUGIN = "tests.plugins.provider_kinds"
STRIPE_KEY = "sk_test_51AbCdEfGhIjKlMnOpQrStUvWx7Yz0"
PAYPAL_SECRET = "EFx-very-secret-client-secret-9876"


def _check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_kassa(
        "config",
        "check",
        "--no-connect",
        env=kassa_env(KASSA_VAR_DIR=str(tmp_path / "var"), KASSA_PLUGINS=PLUGIN, **env),
    )


def _provider_line(out: str, name: str) -> str:
    section = out.split("providers (the install's credentials", 1)[1]
    return next(line for line in section.splitlines() if line.strip().startswith(name))


def test_the_default_credentials_are_shown_by_mode_with_secrets_masked(tmp_path: Path) -> None:
    done = _check(
        tmp_path,
        PAYMENT_PROVIDER="stripe",
        KASSA_PROVIDERS="mock",
        KASSA_STRIPE_SECRET_KEY=STRIPE_KEY,
        KASSA_STRIPE_WEBHOOK_SECRET="whsec_abcdefghijklmnop1234",
    )
    assert STRIPE_KEY not in done.stdout + done.stderr
    assert "whsec_abcdefghijklmnop1234" not in done.stdout + done.stderr
    line = _provider_line(done.stdout, "stripe")
    assert "test mode" in line
    assert "secret_key=sk_test_…7Yz0" in line and "webhook_secret=whsec_…1234" in line
    assert "needs no credentials" in _provider_line(done.stdout, "mock")


def test_an_enabled_provider_without_credentials_is_refused(tmp_path: Path) -> None:
    done = _check(tmp_path, PAYMENT_PROVIDER="stripe")
    assert done.returncode == 1
    assert "error: PAYMENT_PROVIDER: 'stripe' has no default credentials" in done.stdout
    assert "KASSA_STRIPE_SECRET_KEY" in done.stdout
    # Another enabled one without: only accounts with their own can use it (a warning).
    done = _check(tmp_path, KASSA_PROVIDERS="stripe")
    assert "warning: KASSA_PROVIDERS: 'stripe' has no default credentials" in done.stdout
    assert "only accounts with their own" in done.stdout


def test_incomplete_credentials_are_refused_naming_the_setting(tmp_path: Path) -> None:
    done = _check(
        tmp_path,
        PAYMENT_PROVIDER="paypal",
        KASSA_PAYPAL_CLIENT_ID="AbC-client-id",
        KASSA_PAYPAL_ENVIRONMENT="live",
    )
    assert done.returncode == 1
    assert "error: KASSA_PAYPAL_CLIENT_SECRET: client_secret is required" in done.stdout
    line = _provider_line(done.stdout, "paypal")
    assert "live mode" in line and "missing client_secret" in line
    done = _check(
        tmp_path,
        PAYMENT_PROVIDER="paypal",
        KASSA_PAYPAL_CLIENT_ID="AbC-client-id",
        KASSA_PAYPAL_CLIENT_SECRET=PAYPAL_SECRET,
    )
    assert PAYPAL_SECRET not in done.stdout + done.stderr
    assert "test mode" in _provider_line(done.stdout, "paypal")
    assert "client_secret=…9876" in _provider_line(done.stdout, "paypal")
