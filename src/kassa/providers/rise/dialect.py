"""The two versions of Rise's API kassa speaks (``RISE_API_VERSION``): the same flow, other
paths and field names. Each dialect turns kassa's intent into a request and Rise's answer into
one normalised shape, so the client and its checks are written once.

- **v2** (Rise's current B2B API docs): ``GET /v2/auth/siwe?wallet=&riseid=`` -> ``siwe``,
  ``POST /v2/auth/verify {message, sig, nonce}`` -> ``jwt``; ``POST /v2/payments`` -> typed data
  ``{domain, types, typed_data, primary_type}``, ``PUT /v2/payments`` executes it.
- **v1** (seed 000/001 and Rise's v1 reference, as third-party clients use it):
  ``GET /v1/auth/api/siwe?wallet=`` -> ``message``, ``POST /v1/auth/api/siwe {wallet, message,
  signature}`` -> ``token``; ``PUT /v1/payments/batch-pay {wallet, rise_id, total_amount,
  payments: [{recipient, amount, salt}]}`` -> EIP-712 JSON ``{domain, types, primaryType,
  message}``, ``POST`` of the same body with ``request`` (the message) and ``signature``
  executes it. A single payment goes as a batch of one (``/payments/pay`` is not used). The
  answer to the ``POST`` is assumed to list the payments as v2 does.
- Both: ``/riseid/{id}``, ``/riseid/{id}/balance``, ``/riseid/invite`` (seed 000's routes) and
  ``/payments/{id}``, ``/payments?salt=`` under the version's prefix (assumed for v2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ApiVersion = Literal["v1", "v2"]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    json: object = None
    params: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """One payment as sent: payee RiseID, cents, USDC base units, salt."""

    payee: str
    cents: int
    units: int
    salt: int
    description: str


def _dict(data: object) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}


class RiseDialect(Protocol):
    version: ApiVersion

    def challenge(self, wallet: str, company: str) -> Request: ...
    def challenge_text(self, data: object) -> object: ...
    def verify(self, wallet: str, text: str, signature: str, nonce: str) -> Request: ...
    def token(self, data: object) -> object: ...
    def create(
        self, wallet: str, company: str, network: str, group_salt: int, lines: Sequence[Line]
    ) -> Request: ...
    def intent(self, data: object) -> dict[str, Any]: ...
    def execute(
        self, create: Request, answer: object, intent: dict[str, Any], wallet: str, signature: str
    ) -> Request: ...
    def payment(self, transaction_id: str) -> Request: ...
    def payments_with_salt(self, salt: int) -> Request: ...
    def riseid(self, riseid: str) -> Request: ...
    def balance(self, company: str) -> Request: ...
    def invite(
        self, company: str, email: str, first: str | None, last: str | None, salt: int
    ) -> Request: ...


class _Common:
    prefix = ""

    def payment(self, transaction_id: str) -> Request:
        return Request("GET", f"{self.prefix}/payments/{transaction_id}")

    def payments_with_salt(self, salt: int) -> Request:
        return Request("GET", f"{self.prefix}/payments", params={"salt": str(salt)})

    def riseid(self, riseid: str) -> Request:
        return Request("GET", f"{self.prefix}/riseid/{riseid}")

    def balance(self, company: str) -> Request:
        return Request("GET", f"{self.prefix}/riseid/{company}/balance")

    def invite(
        self, company: str, email: str, first: str | None, last: str | None, salt: int
    ) -> Request:
        body = {
            "riseid": company,
            "email": email,
            "first_name": first,
            "last_name": last,
            "salt": str(salt),
        }
        return Request("POST", f"{self.prefix}/riseid/invite", json=body)


class V2(_Common):
    version: ApiVersion = "v2"
    prefix = "/v2"

    def challenge(self, wallet: str, company: str) -> Request:
        return Request("GET", "/v2/auth/siwe", params={"wallet": wallet, "riseid": company})

    def challenge_text(self, data: object) -> object:
        return _dict(data).get("siwe")

    def verify(self, wallet: str, text: str, signature: str, nonce: str) -> Request:
        return Request(
            "POST", "/v2/auth/verify", json={"message": text, "sig": signature, "nonce": nonce}
        )

    def token(self, data: object) -> object:
        return _dict(data).get("jwt")

    def create(
        self, wallet: str, company: str, network: str, group_salt: int, lines: Sequence[Line]
    ) -> Request:
        body = {
            "from": company,
            "salt": str(group_salt),
            "to": [
                {
                    "to": line.payee,
                    "amount_cents": line.cents,
                    "currency_symbol": "USD",
                    "salt": str(line.salt),
                    "invoice_description": line.description,
                }
                for line in lines
            ],
            "pay_now": True,
            "network": network,
        }
        return Request("POST", "/v2/payments", json=body)

    def intent(self, data: object) -> dict[str, Any]:
        return _dict(data)

    def execute(
        self, create: Request, answer: object, intent: dict[str, Any], wallet: str, signature: str
    ) -> Request:
        body = {"signer": wallet, "typed_data": answer, "signature": signature}
        return Request("PUT", "/v2/payments", json=body)


class V1(_Common):
    version: ApiVersion = "v1"
    prefix = "/v1"

    def challenge(self, wallet: str, company: str) -> Request:
        return Request("GET", "/v1/auth/api/siwe", params={"wallet": wallet})

    def challenge_text(self, data: object) -> object:
        return _dict(data).get("message")

    def verify(self, wallet: str, text: str, signature: str, nonce: str) -> Request:
        body = {"wallet": wallet, "message": text, "signature": signature}
        return Request("POST", "/v1/auth/api/siwe", json=body)

    def token(self, data: object) -> object:
        return _dict(data).get("token")

    def create(
        self, wallet: str, company: str, network: str, group_salt: int, lines: Sequence[Line]
    ) -> Request:
        body = {
            "wallet": wallet,
            "rise_id": company,
            "salt": str(group_salt),
            "total_amount": str(sum(line.units for line in lines)),
            "payments": [
                {"recipient": line.payee, "amount": str(line.units), "salt": str(line.salt)}
                for line in lines
            ],
        }
        return Request("PUT", "/v1/payments/batch-pay", json=body)

    def intent(self, data: object) -> dict[str, Any]:
        """EIP-712 JSON (``primaryType``, ``message``) in v2's shape."""
        raw = _dict(data)
        return {
            "domain": raw.get("domain"),
            "types": raw.get("types"),
            "typed_data": raw.get("message"),
            "primary_type": raw.get("primaryType"),
        }

    def execute(
        self, create: Request, answer: object, intent: dict[str, Any], wallet: str, signature: str
    ) -> Request:
        body = {**_dict(create.json), "request": intent["typed_data"], "signature": signature}
        return Request("POST", "/v1/payments/batch-pay", json=body)


DIALECTS: dict[ApiVersion, RiseDialect] = {"v1": V1(), "v2": V2()}
