"""The hot wallet's key: imported into a private encrypted file by the CLI, read back from
KASSA_HOT_WALLET_KEY_FILE, and never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from kassa.chain.wallet import hot_wallet
from kassa.core.errors import ConfigurationError
from kassa.core.settings import Settings


def test_import_writes_an_encrypted_private_key_file(tmp_path: Path) -> None:
    account = Account.create()
    key = "0x" + bytes(account.key).hex()
    env = {
        **os.environ,
        "KASSA_SECRET_KEY": "s" * 48,
        "KASSA_VAR_DIR": str(tmp_path),
        "KASSA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
    }
    path = tmp_path / "wallet.key"
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("kassa")),
            "chain",
            "hot-wallet",
            "import",
            "--stdin",
            "--key-file",
            str(path),
        ],
        input=key + "\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert str(account.address).lower() in done.stdout
    assert key[2:] not in done.stdout + done.stderr
    assert path.stat().st_mode & 0o077 == 0
    assert key[2:] not in path.read_text()
    settings = Settings(secret_key="s" * 48, var_dir=tmp_path, hot_wallet_key_file=path)
    wallet = hot_wallet(settings)
    assert wallet is not None and wallet.address == str(account.address).lower()
    assert key[2:] not in repr(wallet)
    other = Settings(secret_key="t" * 48, var_dir=tmp_path, hot_wallet_key_file=path)
    with pytest.raises(ConfigurationError, match="KASSA_SECRET_KEY"):
        hot_wallet(other)
