"""`kassa providers credentials ...` on the server: secrets from stdin, never printed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import kassa_env, run_kassa

SECRET = "sk_test_cli_SeCrEtVaLuE_abcd4242"


def test_credentials_from_the_command_line(tmp_path: Path) -> None:
    env = kassa_env(KASSA_VAR_DIR=str(tmp_path / "var"))
    assert run_kassa("migrate", env=env).returncode == 0
    account = run_kassa("account-create", "--name", "Shop", env=env).stdout.strip()
    base = ("providers", "credentials")
    created = run_kassa(
        *base, "create", "--account", account, "--kind", "mock", "--secret", "secret_key",
        env=env, input_text=SECRET + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    shown = json.loads(created.stdout)
    assert shown["secret_hints"] == {"secret_key": "sk_test_…4242"}
    pcr = shown["id"]
    listed = run_kassa(*base, "list", "--account", account, "--json", env=env)
    assert [row["id"] for row in json.loads(listed.stdout)] == [pcr]
    again = run_kassa(
        *base, "create", "--account", account, "--kind", "mock", "--field", f"secret_key={SECRET}",
        env=env,
    )  # fmt: skip
    assert again.returncode == 1 and "provider_credentials_exist" in again.stderr
    assert "seen by ps" in again.stderr  # a secret given as --field is warned about
    deleted = run_kassa(*base, "delete", pcr, "--account", account, env=env)
    assert deleted.returncode == 0 and pcr in deleted.stdout
    for result in (created, listed, again, deleted):
        assert SECRET not in result.stdout + result.stderr
