"""Signing checked against published vectors: EIP-712's own ``Mail`` example and EIP-4361
messages that parse, round-trip and verify (and tampered ones that do not)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from kassa.core.money import Money
from kassa.providers.rise import siwe, typed_data

# EIP-712, "Test Cases": Cow signs a Mail to Bob with the key keccak256("cow").
MAIL = {
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": 1,
        "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC",
    },
    "types": {
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "typed_data": {
        "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
        "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
        "contents": "Hello, Bob!",
    },
}
MAIL_SIGNATURE = (
    "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
    "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
    "1c"
)
COW = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"


def test_the_eip712_mail_example_signs_to_its_published_signature() -> None:
    key = "0x" + keccak(text="cow").hex()
    assert Account.from_key(key).address == COW
    assert typed_data.sign(MAIL, key) == MAIL_SIGNATURE
    assert typed_data.recover(MAIL, MAIL_SIGNATURE) == COW
    tampered = {**MAIL, "typed_data": {**MAIL["typed_data"], "contents": "Hello, Eve!"}}
    assert typed_data.recover(tampered, MAIL_SIGNATURE) != COW


# EIP-4361's example message (with its optional fields).
EXAMPLE = (
    "example.com wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "I accept the ExampleOrg Terms of Service: https://example.com/tos\n"
    "\n"
    "URI: https://example.com/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json"
)


def test_an_eip4361_message_parses_and_round_trips() -> None:
    message = siwe.parse(EXAMPLE)
    assert message.domain == "example.com" and message.chain_id == 1
    assert message.nonce == "32891756" and len(message.resources) == 2
    assert message.to_text() == EXAMPLE
    bare = siwe.SiweMessage(
        domain="rise.works",
        address=COW,
        uri="https://rise.works",
        chain_id=42161,
        nonce="abcdefgh12",
        issued_at="2026-01-01T00:00:00Z",
        expiration_time="2026-01-01T00:10:00Z",
        request_id="r-1",
    )
    assert siwe.parse(bare.to_text()) == bare
    assert "\n\n\nURI:" in bare.to_text()  # no statement: two empty lines


def test_a_signed_message_verifies_and_a_tampered_one_does_not() -> None:
    account = Account.create()
    text = siwe.SiweMessage(
        domain="rise.works",
        address=account.address,
        uri="https://rise.works",
        chain_id=42161,
        nonce="abcdefgh12",
        issued_at="2026-01-01T00:00:00Z",
    ).to_text()
    signature = siwe.sign(text, "0x" + bytes(account.key).hex())
    assert siwe.recover(text, signature) == account.address
    assert siwe.recover(text.replace("42161", "1"), signature) != account.address
    with pytest.raises(siwe.SiweError):
        siwe.recover(text, "0x1234")


@pytest.mark.parametrize(
    "broken",
    [
        EXAMPLE.replace(" wants you to sign in", " would like you to sign in"),
        EXAMPLE.replace(
            "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
            "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
        ),
        EXAMPLE.replace("Version: 1", "Version: 2"),
        EXAMPLE.replace("Nonce: 32891756", "Nonce: 12"),
        EXAMPLE.replace("Issued At: 2021-09-30T16:25:24Z", "Issued At: yesterday"),
        EXAMPLE + "\nextra",
    ],
)
def test_what_is_not_an_eip4361_message_is_refused(broken: str) -> None:
    with pytest.raises(siwe.SiweError):
        siwe.parse(broken)


def test_usd_converts_to_usdc_base_units_exactly() -> None:
    assert typed_data.usdc_units(Money(1, "USD")) == 10_000
    assert typed_data.usdc_units(Money(99_999_999_999_999, "USD")) == 999_999_999_999_990_000
    assert typed_data.money_from_usdc(19_999) == Money(1, "USD")
    with pytest.raises(ValueError, match="USD"):
        typed_data.usdc_units(Money(1, "EUR"))


def test_salts_follow_the_key() -> None:
    assert typed_data.salt_for("c", "po_1") == typed_data.salt_for("c", "po_1")
    assert typed_data.salt_for("c", "po_1") != typed_data.salt_for("c", "po_2")
    assert typed_data.salt_for("c", "po_1") != typed_data.salt_for("d", "po_1")
    assert 0 <= typed_data.salt_for("c", "po_1") < 2**256
