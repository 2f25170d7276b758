"""The `kassa` command as an operator uses it."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Backend
from tests.helpers import kassa_env, run_kassa


def _env(db: Backend, tmp_path: Path, **extra: str) -> dict[str, str]:
    return kassa_env(
        KASSA_DATABASE_URL=db.url, KASSA_VAR_DIR=str(tmp_path), KASSA_SECRET_KEY="s" * 40, **extra
    )


def test_help_lists_the_commands() -> None:
    result = run_kassa("--help", env=kassa_env())
    assert result.returncode == 0
    for command in ("run", "serve", "worker", "migrate", "apikey", "user", "jobs", "config"):
        assert command in result.stdout


def test_migrate_check_says_what_to_do_on_a_new_database(tmp_path: Path) -> None:
    env = kassa_env(KASSA_VAR_DIR=str(tmp_path))
    result = run_kassa("migrate", "--check", env=env)
    assert result.returncode == 1
    assert "not migrated yet: run `kassa migrate`" in result.stderr
    assert run_kassa("migrate", env=env).returncode == 0
    checked = run_kassa("migrate", "--check", env=env)
    assert checked.returncode == 0 and "match the migrations" in checked.stdout
    assert "INFO" not in checked.stderr


def test_version() -> None:
    import kassa

    result = run_kassa("--version", env=kassa_env())
    assert result.returncode == 0 and result.stdout.strip() == f"kassa {kassa.__version__}"


async def test_account_key_lifecycle(db: Backend, tmp_path: Path) -> None:
    env = _env(db, tmp_path)
    created = run_kassa("account-create", "--name", "Acme", env=env)
    assert created.returncode == 0, created.stderr
    account = created.stdout.strip()
    assert account.startswith("acct_")

    key = run_kassa("apikey", "create", "--account", account, "--scopes", "read", env=env)
    assert key.returncode == 0, key.stderr
    key_id, secret = key.stdout.split()
    assert secret.startswith("sk_test_")

    listed = run_kassa("apikey", "list", "--account", account, env=env)
    assert key_id in listed.stdout
    assert secret not in listed.stdout

    revoked = run_kassa("apikey", "revoke", key_id, "--account", account, env=env)
    assert revoked.returncode == 0
    assert '"revoked": true' in run_kassa("apikey", "list", "--account", account, env=env).stdout


async def test_errors_are_one_clear_line_and_a_nonzero_exit(db: Backend, tmp_path: Path) -> None:
    env = _env(db, tmp_path)
    missing = run_kassa("apikey", "create", "--account", "acct_nope", env=env)
    assert missing.returncode == 1
    assert "No account 'acct_nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_scope = run_kassa(
        "apikey", "create", "--account", "acct_nope", "--scopes", "admin", env=env
    )
    assert bad_scope.returncode == 1
    assert "Traceback" not in bad_scope.stderr


async def test_user_create_reads_the_password_without_echo(db: Backend, tmp_path: Path) -> None:
    env = _env(db, tmp_path, KASSA_NEW_USER_PASSWORD="a long enough password")
    result = run_kassa("user", "create", "--email", "root@kassa.test", "--role", "admin", env=env)
    assert result.returncode == 0, result.stderr
    assert "created admin root@kassa.test" in result.stdout
    assert "a long enough password" not in result.stdout + result.stderr


def test_config_check_exit_codes(tmp_path: Path) -> None:
    ok = run_kassa("config", "check", env=kassa_env(KASSA_VAR_DIR=str(tmp_path)))
    assert ok.returncode == 0
    assert "KASSA_DATABASE_URL" in ok.stdout
    bad = run_kassa(
        "config", "check", env=kassa_env(KASSA_ENV="production", KASSA_VAR_DIR=str(tmp_path))
    )
    assert bad.returncode == 1
    assert "KASSA_SECRET_KEY: required in production" in bad.stdout
    secret = run_kassa(
        "config",
        "check",
        env=kassa_env(
            KASSA_VAR_DIR=str(tmp_path), KASSA_SECRET_KEY="super-secret-value-" + "z" * 20
        ),
    )
    assert "super-secret-value" not in secret.stdout


def test_invalid_settings_are_reported_without_a_trace(tmp_path: Path) -> None:
    result = run_kassa("config", "check", env=kassa_env(KASSA_PORT="eighty"))
    assert result.returncode == 2
    assert "KASSA_PORT" in result.stderr or "port" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_prints_the_credentials_in_private_files_and_claims_nothing_runs(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    previous = os.umask(0o022)  # the usual default: files 0644 and folders 0755 without care
    try:
        first = run_kassa("demo", env=kassa_env(KASSA_VAR_DIR=str(var)))
    finally:
        os.umask(previous)
    assert first.returncode == 0, first.stderr
    assert "sk_test_" in first.stdout and "admin@kassa.local" in first.stdout
    assert "is running" not in first.stdout and "Ctrl-C" not in first.stdout
    assert "kassa run" in first.stdout  # what to start to use them
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in var.iterdir()}
    assert {"kassa.db", "demo.json"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o600)
    again = run_kassa("demo", env=kassa_env(KASSA_VAR_DIR=str(var)))
    key = next(w for w in first.stdout.split() if w.startswith("sk_test_"))
    assert key in again.stdout


def test_demo_help_says_which_ports_the_chain_demo_takes() -> None:
    """Someone running it beside another kassa (or anvil) needs to know what to change."""
    helped = run_kassa("demo", "--help", env=kassa_env(COLUMNS="200"))
    assert helped.returncode == 0
    assert "KASSA_PORT" in helped.stdout and "8545" in helped.stdout


async def test_listings_print_json_arrays_with_json(db: Backend, tmp_path: Path) -> None:
    env = _env(db, tmp_path)
    assert json.loads(run_kassa("jobs", "dead", "--json", env=env).stdout) == []
    assert run_kassa("jobs", "dead", env=env).stdout == "No dead jobs.\n"
    account = run_kassa("account-create", "--name", "Acme", env=env).stdout.strip()
    listed = run_kassa("apikey", "list", "--account", account, "--json", env=env)
    assert json.loads(listed.stdout) == []
    catalog = json.loads(run_kassa("webhooks", "catalog", "--json", env=env).stdout)
    assert any(e["name"] == "webhook_endpoint.ping" and e["description"] for e in catalog)


async def test_a_database_that_refuses_is_one_line_without_its_password(
    db: Backend, tmp_path: Path
) -> None:
    if db.name != "postgresql":
        pytest.skip("a missing database and a password are PostgreSQL's")
    missing = make_url(db.url).set(database="kassa_no_such_database", password="hunter2secret")
    env = kassa_env(
        KASSA_DATABASE_URL=missing.render_as_string(hide_password=False),
        KASSA_VAR_DIR=str(tmp_path),
    )
    result = run_kassa("apikey", "list", "--account", "acct_x", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        'error: the database refused: InvalidCatalogNameError: database "kassa_no_such_database"'
        " does not exist"
    ]
