"""Stored bytes are encrypted and authenticated, and rows written in the older format still read."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from kassa.core.crypto import BytesBox, derive_key
from kassa.core.errors import ConfigurationError

KEY = b"k" * 48


def test_round_trip_hides_the_plaintext_and_never_repeats() -> None:
    box = BytesBox(KEY, "test.purpose")
    first, second = box.encrypt(b"sk_test_secret"), box.encrypt(b"sk_test_secret")
    assert b"sk_test_secret" not in first and first != second
    assert box.decrypt(first) == box.decrypt(second) == b"sk_test_secret"


def test_tampering_or_another_secret_key_is_refused() -> None:
    token = BytesBox(KEY, "test.purpose").encrypt(b"body")
    with pytest.raises(ConfigurationError):
        BytesBox(b"o" * 48, "test.purpose").decrypt(token)
    tampered = token[:-1] + bytes([token[-1] ^ 1])
    with pytest.raises(ConfigurationError):
        BytesBox(KEY, "test.purpose").decrypt(tampered)


def test_tokens_of_the_earlier_fernet_format_still_decrypt() -> None:
    legacy = Fernet(base64.urlsafe_b64encode(derive_key(KEY, "test.purpose"))).encrypt(b"old")
    assert BytesBox(KEY, "test.purpose").decrypt(legacy) == b"old"
