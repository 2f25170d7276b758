"""The hot wallet refunds are sent from: its key, and the transactions it signs.

The key comes from ``KASSA_HOT_WALLET_PRIVATE_KEY`` (a SecretStr) or from
``KASSA_HOT_WALLET_KEY_FILE``, a file ``kassa chain hot-wallet import`` wrote: the key
encrypted with KASSA_SECRET_KEY (AES-GCM, core/crypto.py), private to its owner. The key is
held by a ``HotWallet`` only; its repr, its errors and every log line show the address,
never the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address

from kassa.chain.abi import call_data
from kassa.core.crypto import SecretBox
from kassa.core.errors import ConfigurationError
from kassa.core.private_files import write_private
from kassa.core.settings import Settings

_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_PURPOSE = "kassa.chain.hot_wallet"
FILE_HEADER = "kassa-hot-wallet-v1"
ERC20_TRANSFER_GAS = 100_000  # a stablecoin transfer takes ~35-65k; the rest is unused


@dataclass(frozen=True, slots=True)
class FeeOffer:
    """EIP-1559 fees, in wei per gas."""

    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def bumped(self, percent: int = 125) -> FeeOffer:
        """A replacement's fees: nodes take one only if both rise by at least 10 %."""
        return FeeOffer(
            self.max_fee_per_gas * percent // 100 + 1,
            self.max_priority_fee_per_gas * percent // 100 + 1,
        )


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    raw: str  # 0x + hex: exactly what eth_sendRawTransaction takes
    tx_hash: str  # lower case


class HotWallet:
    def __init__(self, private_key: str) -> None:
        if not _KEY.match(private_key.strip()):
            raise ConfigurationError("The hot wallet key is not 32 bytes of hex.")
        self._account = Account.from_key(private_key.strip())
        self.address = str(self._account.address).lower()

    def __repr__(self) -> str:
        return f"HotWallet({self.address})"

    def sign_token_transfer(
        self,
        *,
        chain_id: int,
        token: str,
        to: str,
        units: int,
        nonce: int,
        fees: FeeOffer,
        gas: int = ERC20_TRANSFER_GAS,
    ) -> SignedTransaction:
        """An ERC-20 ``transfer(to, units)`` as a signed EIP-1559 (type 2) transaction."""
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": chain_id,
            "nonce": nonce,
            "to": to_checksum_address(token),
            "value": 0,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "data": call_data("transfer(address,uint256)", ["address", "uint256"], [to, units]),
        }
        signed = self._account.sign_transaction(tx)
        return SignedTransaction("0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex())


def encrypt_key(settings: Settings, private_key: str) -> str:
    """The text of a key file for ``private_key`` (checked first)."""
    HotWallet(private_key)
    box = SecretBox(settings.secret_key_bytes(), _PURPOSE)
    return f"{FILE_HEADER}\n{box.encrypt(private_key.strip())}\n"


def write_key_file(settings: Settings, path: Path, private_key: str) -> str:
    """Write the encrypted key file (0600, atomically); returns the wallet's address."""
    text = encrypt_key(settings, private_key)
    write_private(path, text)
    return HotWallet(private_key).address


def hot_wallet(settings: Settings) -> HotWallet | None:
    """The configured hot wallet, or None when there is none (refunds then wait)."""
    if settings.hot_wallet_private_key is not None:
        return HotWallet(settings.hot_wallet_private_key.get_secret_value())
    path = settings.hot_wallet_key_file
    if path is None:
        return None
    try:
        header, token = path.read_text().split("\n")[:2]
    except (OSError, ValueError):
        raise ConfigurationError(
            f"KASSA_HOT_WALLET_KEY_FILE {path} cannot be read as a hot wallet key file."
        ) from None
    if header != FILE_HEADER:
        raise ConfigurationError(f"{path} is not a key file of `kassa chain hot-wallet import`.")
    box = SecretBox(settings.secret_key_bytes(), _PURPOSE)
    return HotWallet(box.decrypt(token))
