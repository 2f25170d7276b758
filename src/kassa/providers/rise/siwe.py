"""Sign-In with Ethereum (EIP-4361) messages: parse, format, sign and recover.

Built here rather than with the ``siwe`` package, which pins web3 < 8 and eth-account < 0.14.
The text format (EIP-4361, "Message Format")::

    {domain} wants you to sign in with your Ethereum account:
    {address}

    {statement}

    URI: {uri}
    Version: 1
    Chain ID: {chain id}
    Nonce: {nonce}
    Issued At: {RFC 3339 time}
    Expiration Time: {RFC 3339 time}      (optional, like the fields below)
    Not Before: {RFC 3339 time}
    Request ID: {request id}
    Resources:
    - {uri}

Without a statement the address is followed by two empty lines. The signature is EIP-191
``personal_sign`` of the exact text (``Account.sign_message(encode_defunct(text=...))``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address

from kassa.core.digits import ascii_digits

_PREAMBLE = " wants you to sign in with your Ethereum account:"
_OPTIONAL = (
    ("Expiration Time", "expiration_time"),
    ("Not Before", "not_before"),
    ("Request ID", "request_id"),
)


class SiweError(ValueError):
    """The text is not an EIP-4361 message (never carries key material)."""


@dataclass(frozen=True, slots=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    statement: str | None = None
    version: str = "1"
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)

    def to_text(self) -> str:
        lines = [f"{self.domain}{_PREAMBLE}", self.address, ""]
        if self.statement is not None:
            lines += [self.statement, ""]
        else:
            lines += [""]
        lines += [
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        for label, attr in _OPTIONAL:
            value = getattr(self, attr)
            if value is not None:
                lines.append(f"{label}: {value}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {r}" for r in self.resources]
        return "\n".join(lines)

    def expires(self) -> datetime | None:
        return parse_time(self.expiration_time) if self.expiration_time else None

    def not_valid_before(self) -> datetime | None:
        return parse_time(self.not_before) if self.not_before else None


def parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise SiweError(f"not an RFC 3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise SiweError(f"time without an offset: {value!r}")
    return parsed


def _field(lines: list[str], index: int, label: str) -> str:
    if index >= len(lines) or not lines[index].startswith(f"{label}: "):
        raise SiweError(f"expected '{label}:' on line {index + 1}")
    return lines[index][len(label) + 2 :]


def parse(text: str) -> SiweMessage:
    """Parse an EIP-4361 message; ``SiweError`` when it is not one."""
    lines = text.split("\n")
    if len(lines) < 9 or not lines[0].endswith(_PREAMBLE):
        raise SiweError("missing the EIP-4361 preamble")
    domain = lines[0][: -len(_PREAMBLE)]
    address = lines[1]
    if not domain or not is_checksum_address(address):
        raise SiweError("the domain is empty or the address is not an EIP-55 address")
    if lines[2] != "":
        raise SiweError("expected an empty line after the address")
    statement: str | None
    if lines[3] == "":
        statement, i = None, 4
    else:
        if lines[4] != "":
            raise SiweError("expected an empty line after the statement")
        statement, i = lines[3], 5
    uri = _field(lines, i, "URI")
    version = _field(lines, i + 1, "Version")
    if version != "1":
        raise SiweError(f"unsupported version {version!r}")
    chain = _field(lines, i + 2, "Chain ID")
    if not ascii_digits(chain):
        raise SiweError("the chain id is not a number")
    nonce = _field(lines, i + 3, "Nonce")
    if len(nonce) < 8 or not nonce.isalnum():
        raise SiweError("the nonce must be at least 8 alphanumeric characters")
    issued_at = _field(lines, i + 4, "Issued At")
    parse_time(issued_at)
    i += 5
    optional: dict[str, str] = {}
    for label, attr in _OPTIONAL:
        if i < len(lines) and lines[i].startswith(f"{label}: "):
            optional[attr] = _field(lines, i, label)
            i += 1
    for attr in ("expiration_time", "not_before"):
        if attr in optional:
            parse_time(optional[attr])
    resources: list[str] = []
    if i < len(lines) and lines[i] == "Resources:":
        i += 1
        while i < len(lines) and lines[i].startswith("- "):
            resources.append(lines[i][2:])
            i += 1
    if i != len(lines):
        raise SiweError(f"unexpected text on line {i + 1}")
    return SiweMessage(
        domain=domain,
        address=address,
        uri=uri,
        chain_id=int(chain),
        nonce=nonce,
        issued_at=issued_at,
        statement=statement,
        version=version,
        resources=tuple(resources),
        **optional,
    )


def sign(text: str, private_key: str) -> str:
    """EIP-191 signature of the exact message text, 0x-prefixed hex."""
    signed = Account.sign_message(encode_defunct(text=text), private_key=private_key)
    return "0x" + bytes(signed.signature).hex()


def recover(text: str, signature: str) -> str:
    """The address that signed ``text`` (checksummed); ``SiweError`` for a malformed one."""
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception as exc:  # eth-keys raises several types for malformed signatures
        raise SiweError("the signature is malformed") from exc
