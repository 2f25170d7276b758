"""`kassa config check` against real servers: it says "can work" only when it does.

PostgreSQL (KASSA_TEST_POSTGRES_URL, trust authentication, so any password is accepted),
Redis (KASSA_TEST_REDIS_URL) and an SMTP server (aiosmtpd, started here) are real; "nothing
listens" is a free port on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI, PG_ADMIN_URL, _pg_reachable
from tests.helpers import free_port, kassa_env, run_kassa
from tests.notify.smtp import PASSWORD, USER, self_signed, smtp_server

SECRET = "hunter2secret"
REDIS_URL = os.environ.get("KASSA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module")
def postgres() -> str:
    """The test server's URL with a password in it (trust authentication ignores it)."""
    problem = asyncio.run(_pg_reachable())
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}")
    return make_url(PG_ADMIN_URL).set(password=SECRET).render_as_string(hide_password=False)


def _check(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_kassa(
        "config", "check", *args, env=kassa_env(KASSA_VAR_DIR=str(tmp_path / "var"), **env)
    )


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def test_a_reachable_database_can_work_and_its_password_is_never_shown(
    postgres: str, tmp_path: Path
) -> None:
    result = _check(tmp_path, KASSA_DATABASE_URL=postgres)
    assert result.returncode == 0, _output(result)
    assert "The configuration can work." in result.stdout
    assert SECRET not in _output(result)
    assert f"{make_url(postgres).username}:***@" in result.stdout


def test_a_port_where_nothing_listens_fails_with_the_reason(postgres: str, tmp_path: Path) -> None:
    url = make_url(postgres).set(port=free_port()).render_as_string(hide_password=False)
    result = _check(tmp_path, KASSA_DATABASE_URL=url)
    assert result.returncode == 1
    assert "can work" not in result.stdout
    assert "error: KASSA_DATABASE_URL: cannot connect to" in result.stdout
    assert "refused" in result.stdout.lower() or "connect call failed" in result.stdout.lower()
    assert SECRET not in _output(result) and "Traceback" not in _output(result)


def test_a_database_that_does_not_exist_fails_with_the_reason(
    postgres: str, tmp_path: Path
) -> None:
    url = make_url(postgres).set(database="kassa_no_such_database")
    result = _check(tmp_path, KASSA_DATABASE_URL=url.render_as_string(hide_password=False))
    assert result.returncode == 1
    assert 'database "kassa_no_such_database" does not exist' in result.stdout
    assert SECRET not in _output(result)


def test_a_new_sqlite_database_can_work_and_is_not_created_by_the_check(tmp_path: Path) -> None:
    result = _check(tmp_path)
    assert result.returncode == 0, _output(result)
    assert not (tmp_path / "var" / "kassa.db").exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    cannot = _check(tmp_path, KASSA_DATABASE_URL=f"sqlite:///{blocked}/kassa.db")
    assert cannot.returncode == 1
    assert "error: KASSA_DATABASE_URL: cannot create" in cannot.stdout


def test_redis_is_reached_and_its_password_masked(tmp_path: Path) -> None:
    reachable = _check(tmp_path, KASSA_REDIS_URL=REDIS_URL)
    assert reachable.returncode == 0, _output(reachable)
    nothing = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    result = _check(tmp_path, KASSA_REDIS_URL=nothing)
    assert result.returncode == 1
    assert "error: KASSA_REDIS_URL: cannot reach redis://:***@127.0.0.1:" in result.stdout
    [shown] = [line.split() for line in result.stdout.splitlines() if "KASSA_REDIS_URL " in line]
    assert shown[0] == "KASSA_REDIS_URL" and shown[1].startswith("redis://:***@127.0.0.1:")
    assert SECRET not in _output(result)


def test_smtp_is_reached_and_a_refused_login_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as inbox:
        plain = _check(
            tmp_path,
            KASSA_SMTP_HOST=inbox.host,
            KASSA_SMTP_PORT=str(inbox.port),
            KASSA_SMTP_STARTTLS="false",
        )
    assert plain.returncode == 0, _output(plain)
    assert inbox.messages == []  # a check sends nothing
    certs = self_signed(tmp_path)
    with smtp_server(tls="starttls", certs=certs) as inbox:
        settings = {
            "KASSA_SMTP_HOST": inbox.host,
            "KASSA_SMTP_PORT": str(inbox.port),
            "KASSA_SMTP_USERNAME": USER,
            "SSL_CERT_FILE": str(certs[0]),  # how an operator trusts a private CA
        }
        good = _check(tmp_path, KASSA_SMTP_PASSWORD=PASSWORD, **settings)
        wrong = _check(tmp_path, KASSA_SMTP_PASSWORD=SECRET, **settings)
    assert good.returncode == 0, _output(good)
    assert wrong.returncode == 1
    assert "error: KASSA_SMTP_USERNAME:" in wrong.stdout and "refused the login" in wrong.stdout
    assert SECRET not in _output(wrong)
    unreachable = _check(tmp_path, KASSA_SMTP_HOST="127.0.0.1", KASSA_SMTP_PORT=str(free_port()))
    assert unreachable.returncode == 1
    assert "error: KASSA_SMTP_HOST: cannot use 127.0.0.1:" in unreachable.stdout


def test_unknown_provider_names_fail(tmp_path: Path) -> None:
    for setting in ("KASSA_PROVIDERS", "KASSA_PROVIDER_FAILOVER", "PAYMENT_PROVIDER"):
        result = _check(tmp_path, "--no-connect", **{setting: "nopay"})
        assert result.returncode == 1, setting
        assert f"error: {setting}: unknown provider 'nopay'" in result.stdout
    known = _check(
        tmp_path, "--no-connect", KASSA_PROVIDERS="mock_b", KASSA_PROVIDER_FAILOVER="mock,mock_b"
    )
    assert known.returncode == 0, _output(known)


def test_production_warns_about_development_only_settings(tmp_path: Path) -> None:
    production = {"KASSA_ENV": "production", "KASSA_SECRET_KEY": "p" * 40}
    result = _check(
        tmp_path,
        KASSA_WEBHOOK_ALLOW_PRIVATE="true",
        KASSA_LOG_LEVEL="DEBUG",
        KASSA_DATABASE_ECHO="true",
        KASSA_RATE_LIMIT_PER_KEY="0",
        **production,
    )
    assert result.returncode == 0, _output(result)  # warnings: it works, but should not be so
    for setting in (
        "KASSA_WEBHOOK_ALLOW_PRIVATE",
        "PAYMENT_PROVIDER",  # the mock
        "KASSA_LOG_LEVEL",
        "KASSA_DATABASE_ECHO",
        "KASSA_RATE_LIMIT_PER_KEY",
        "KASSA_DATABASE_URL",  # SQLite
    ):
        assert f"warning: {setting}: " in result.stdout, setting
    development = _check(tmp_path, KASSA_WEBHOOK_ALLOW_PRIVATE="true")
    assert "warning: KASSA_WEBHOOK_ALLOW_PRIVATE" not in development.stdout


def test_a_plugin_that_cannot_be_imported_fails(tmp_path: Path) -> None:
    result = _check(tmp_path, "--no-connect", KASSA_PLUGINS="kassa_no_such_plugin")
    assert result.returncode == 1
    assert "error: KASSA_PLUGINS: cannot import kassa_no_such_plugin" in result.stdout


def test_var_files_others_can_read_are_named(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    (var / "secret_key").write_text("k" * 48)
    (var / "secret_key").chmod(0o644)
    result = _check(tmp_path, "--no-connect")
    assert result.returncode == 0
    assert f"warning: KASSA_VAR_DIR: {var} can be read by other users: chmod 700" in result.stdout
    assert f"{var / 'secret_key'} can be read by other users: chmod 600" in result.stdout
