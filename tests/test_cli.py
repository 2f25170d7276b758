"""The `kassa` command as an operator uses it."""

from __future__ import annotations

from pathlib import Path

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
