"""Rise webhooks verified on the raw bytes, both schemes; events signed here with
eth-account and hmac, as Rise signs them."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from kassa.webhooks.inbound.signatures.rise import RiseSignatureError, verify, verify_hmac

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
SECRET = "whsec_test"


@pytest.fixture
def rise_signer() -> LocalAccount:
    return Account.create()


def v1_body(at: int = NOW, **extra: object) -> bytes:
    # the spacing is Rise's own: kassa must hash these bytes, not a re-serialisation
    event = {
        "type": "payment.payment_sent",
        "idempotent_key": "0xabc",
        "company_id": 1,
        "timestamp": at,
        "payIntent": {"amount": "1000000"},
        **extra,
    }
    return json.dumps(event, indent=1).encode()


def signed_hash(body: bytes, signer: LocalAccount) -> dict[str, str]:
    digest = "0x" + keccak(body).hex()
    signature = signer.sign_message(encode_defunct(text=digest)).signature
    return {"X-Rise-Hash": digest, "X-Rise-Signature": "0x" + bytes(signature).hex()}


def hmac_header(body: bytes, at: int = NOW, secret: str = SECRET) -> dict[str, str]:
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Rise-Signature": f"t={at},v1={mac}"}


def test_a_signed_hash_event_verifies(rise_signer: LocalAccount) -> None:
    body = v1_body()
    event = verify(
        body, signed_hash(body, rise_signer), now=NOW, signer_address=rise_signer.address
    )
    assert (event.event_id, event.event_type, event.scheme) == (
        "0xabc",
        "payment.payment_sent",
        "signed_hash",
    )
    assert event.timestamp == NOW and event.payload["payIntent"]["amount"] == "1000000"


def test_the_hash_is_of_the_raw_bytes_not_a_reserialisation(rise_signer: LocalAccount) -> None:
    body = v1_body()
    compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
    headers = signed_hash(compact, rise_signer)  # Rise signed other bytes than it sent
    with pytest.raises(RiseSignatureError) as caught:
        verify(body, headers, now=NOW, signer_address=rise_signer.address)
    assert caught.value.reason == "hash_mismatch"


def test_a_changed_body_fails(rise_signer: LocalAccount) -> None:
    body = v1_body()
    headers = signed_hash(body, rise_signer)
    changed = body.replace(b"1000000", b"9000000")
    with pytest.raises(RiseSignatureError) as caught:
        verify(changed, headers, now=NOW, signer_address=rise_signer.address)
    assert caught.value.reason == "hash_mismatch"


def test_a_matching_hash_signed_by_someone_else_fails(rise_signer: LocalAccount) -> None:
    body = v1_body()
    forged = signed_hash(body, Account.create())
    with pytest.raises(RiseSignatureError) as caught:
        verify(body, forged, now=NOW, signer_address=rise_signer.address)
    assert caught.value.reason == "wrong_signer"
    garbage = {**forged, "X-Rise-Signature": "0x" + "00" * 65}
    with pytest.raises(RiseSignatureError) as bad:
        verify(body, garbage, now=NOW, signer_address=rise_signer.address)
    assert bad.value.reason == "bad_signature"


def test_a_stale_signed_hash_event_fails(rise_signer: LocalAccount) -> None:
    old = v1_body(at=NOW - 301)
    with pytest.raises(RiseSignatureError) as caught:
        verify(old, signed_hash(old, rise_signer), now=NOW, signer_address=rise_signer.address)
    assert caught.value.reason == "stale"
    fine = v1_body(at=NOW - 299)
    verify(fine, signed_hash(fine, rise_signer), now=NOW, signer_address=rise_signer.address)


def test_an_hmac_event_verifies_and_accepts_any_rotated_signature() -> None:
    body = json.dumps(
        {"event_type": "payment.completed", "idempotency_key": "evt-1", "created": NOW}
    ).encode()
    event = verify(body, hmac_header(body), now=NOW + 10, secret=SECRET)
    assert (event.event_id, event.scheme, event.timestamp) == ("evt-1", "hmac", NOW)
    old_secret = hmac_header(body, secret="whsec_old")["X-Rise-Signature"].split("v1=")[1]
    rotated = {"X-Rise-Signature": hmac_header(body)["X-Rise-Signature"] + f",v1={old_secret}"}
    assert verify_hmac(body, rotated, secret="whsec_old", now=NOW).event_id == "evt-1"


def test_hmac_refuses_a_wrong_secret_a_changed_body_and_a_stale_time() -> None:
    body = json.dumps(
        {"event_type": "payment.completed", "idempotency_key": "evt-1", "created": NOW}
    ).encode()
    with pytest.raises(RiseSignatureError, match="No v1"):
        verify(body, hmac_header(body, secret="other"), now=NOW, secret=SECRET)
    with pytest.raises(RiseSignatureError):
        verify(body + b" ", hmac_header(body), now=NOW, secret=SECRET)
    with pytest.raises(RiseSignatureError) as stale:
        verify(body, hmac_header(body, at=NOW - 301), now=NOW, secret=SECRET)
    assert stale.value.reason == "stale"
    with pytest.raises(RiseSignatureError) as future:
        verify(body, hmac_header(body, at=NOW + 301), now=NOW, secret=SECRET)
    assert future.value.reason == "stale"


@pytest.mark.parametrize("stamp", ["\xb2", "1\xb9", "\u0661\u0662", "9" * 5000])
def test_an_hmac_time_of_other_digits_is_refused(stamp: str) -> None:
    """A header is latin-1 text: a superscript is a digit to str.isdigit() but not to int(),
    and must be a refusal, never a 500 (nor an Arabic-Indic time read as a number)."""
    body = json.dumps({"event_type": "x", "idempotency_key": "evt-1", "created": NOW}).encode()
    header = {"x-rise-signature": f"t={stamp},v1=" + "0" * 64}
    with pytest.raises(RiseSignatureError) as refused:
        verify(body, header, now=NOW, secret=SECRET)
    assert refused.value.reason == "missing"


def test_unsigned_or_unconfigured_is_refused(rise_signer: LocalAccount) -> None:
    body = v1_body()
    with pytest.raises(RiseSignatureError) as none:
        verify(body, {}, now=NOW, signer_address=rise_signer.address, secret=SECRET)
    assert none.value.reason == "missing"
    with pytest.raises(RiseSignatureError) as unconfigured:
        verify(body, signed_hash(body, rise_signer), now=NOW, secret=SECRET)
    assert unconfigured.value.reason == "not_configured"
    with pytest.raises(RiseSignatureError) as no_secret:
        verify(body, hmac_header(body), now=NOW, signer_address=rise_signer.address)
    assert no_secret.value.reason == "not_configured"


def test_a_signed_event_without_id_or_time_is_refused(rise_signer: LocalAccount) -> None:
    body = json.dumps({"type": "payment.payment_sent"}).encode()
    with pytest.raises(RiseSignatureError) as caught:
        verify(body, signed_hash(body, rise_signer), now=NOW, signer_address=rise_signer.address)
    assert caught.value.reason == "malformed"


def test_a_signature_over_the_hash_bytes_verifies_too(rise_signer: LocalAccount) -> None:
    body = v1_body()
    digest = "0x" + keccak(body).hex()
    signature = rise_signer.sign_message(encode_defunct(hexstr=digest)).signature
    headers = {"x-rise-hash": digest, "x-rise-signature": "0x" + bytes(signature).hex()}
    assert verify(body, headers, now=NOW, signer_address=rise_signer.address).event_id == "0xabc"
