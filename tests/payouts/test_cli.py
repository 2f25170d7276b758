"""`kassa payouts affiliates ...` as an operator runs it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Backend
from tests.factories import merchant
from tests.helpers import kassa_env, run_kassa


async def test_affiliates_create_list_show_suspend(db: Backend, tmp_path: Path) -> None:
    acme = await merchant(db.sessions)
    env = kassa_env(
        KASSA_DATABASE_URL=db.url, KASSA_VAR_DIR=str(tmp_path), KASSA_SECRET_KEY="s" * 40
    )
    account = ("--account", acme.account_id)
    created = run_kassa(
        "payouts", "affiliates", "create", *account, "--code", "ada", "--name", "Ada",
        "--email", "ada@example.test", "--rate-bps", "2500", env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    ada = json.loads(created.stdout)
    assert ada["code"] == "ada" and ada["minimum_payout"]["value"] == "50.00"
    listed = run_kassa("payouts", "affiliates", "list", *account, "--json", env=env)
    assert [a["id"] for a in json.loads(listed.stdout)] == [ada["id"]]
    payee = run_kassa("payouts", "payees", "create", ada["id"], *account, env=env)
    assert payee.returncode == 0, payee.stderr
    suspended = run_kassa(
        "payouts", "affiliates", "set-status", ada["id"], "suspended", *account, env=env
    )
    assert suspended.returncode == 0 and json.loads(suspended.stdout)["status"] == "suspended"
    shown = json.loads(
        run_kassa("payouts", "affiliates", "show", ada["id"], *account, env=env).stdout
    )
    assert shown["status"] == "suspended" and len(shown["payees"]) == 1
    ran = run_kassa("payouts", "run", *account, env=env)  # nothing approved: no batch
    assert ran.returncode == 0 and json.loads(ran.stdout) == [], ran.stderr
    dup = run_kassa(
        "payouts", "affiliates", "create", *account, "--code", "ada", "--name", "A",
        "--email", "a@example.test", env=env,
    )  # fmt: skip
    assert dup.returncode == 1 and "error:" in dup.stderr and "Traceback" not in dup.stderr
