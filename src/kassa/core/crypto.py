"""Small cryptographic helpers: token hashing, secret encryption, constant-time compare."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kassa.core.errors import ConfigurationError


def random_token(nbytes: int = 24) -> str:
    """URL-safe random text with ``nbytes`` of entropy."""
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    """Hash of a high-entropy token (API keys); such tokens need no slow password hash."""
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_bytes = a.encode() if isinstance(a, str) else a
    b_bytes = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_bytes, b_bytes)


def derive_key(secret_key: bytes, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose, derived from KASSA_SECRET_KEY with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        secret_key
    )


class SecretBox:
    """Encrypts secrets kassa must be able to read back (webhook signing secrets)."""

    def __init__(self, secret_key: bytes, purpose: str = "kassa.secretbox") -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigurationError(
                "A stored secret cannot be decrypted: KASSA_SECRET_KEY differs from the one it "
                "was encrypted with."
            ) from exc


class BytesBox:
    """Authenticated encryption of stored bytes (AES-256-GCM), for hot paths: one C call per
    message where Fernet costs tens of microseconds. Tokens are ``b"g1"`` + a 96-bit random
    nonce + ciphertext; tokens without the prefix are read as Fernet, the format used before."""

    _PREFIX = b"g1"
    _NONCE = 12  # bytes: AES-GCM's standard nonce

    def __init__(self, secret_key: bytes, purpose: str) -> None:
        self._aead = AESGCM(derive_key(secret_key, f"{purpose}.aes-gcm"))
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))

    def encrypt(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(self._NONCE)
        return self._PREFIX + nonce + self._aead.encrypt(nonce, plaintext, None)

    def decrypt(self, token: bytes) -> bytes:
        """Raises ConfigurationError when the token was made with another KASSA_SECRET_KEY."""
        try:
            if token.startswith(self._PREFIX):
                body = token[len(self._PREFIX) :]
                return self._aead.decrypt(body[: self._NONCE], body[self._NONCE :], None)
            return self._fernet.decrypt(token)
        except (InvalidTag, InvalidToken) as exc:
            raise ConfigurationError(
                "Stored data cannot be decrypted: KASSA_SECRET_KEY differs from the one it was "
                "encrypted with."
            ) from exc
