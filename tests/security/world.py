"""The hostile merchant's world: a victim and a hostile account, each with one object of every
kind in both modes, keys of any scope set on demand, an admin and a manager.

Objects are made through the API itself (the mock provider is allowed live mode while the
world is built, so live payments exist too); keys and users through their use cases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from kassa.accounts.accounts import create_account
from kassa.accounts.api_keys import create_api_key
from kassa.accounts.models import SCOPES
from kassa.accounts.users import create_user
from kassa.core.db import transaction
from kassa.core.ids import new_id
from kassa.providers.mock import MockProvider
from kassa.webhooks.inbound.models import InboundEvent
from tests.conftest import Backend
from tests.payins.disputes_helpers import open_dispute
from tests.security.scope_table import Op

PASSWORD = "correct horse battery"
ADMIN_EMAIL = "root@kassa.test"
MANAGER_EMAIL = "manager@hostile.test"
AMOUNT = {"value": "10.00", "currency": "USD"}
HOOK = "https://127.0.0.1:9/hook"  # never called: no worker runs in these tests

# Which kind of object each path parameter names.
PARAM_KIND = {
    "key_id": "key",
    "job_id": "job",
    "endpoint_id": "endpoint",
    "event_id": "event",
    "payment_id": "payment",
    "refund_id": "refund",
    "method_id": "payment_method",
    "customer_id": "customer",
    "session_id": "payment_session",
    "address_id": "receiving_address",
    "dispute_id": "dispute",
    "inbound_event_id": "inbound_event",
    "transfer_id": "chain_transfer",
    "affiliate_id": "affiliate",
    "payee_id": "payee",
    "commission_id": "commission",
    "batch_id": "payout_batch",
    "credentials_id": "credentials",
}
# A chain to price sessions on (no node is ever asked: creating sessions reads none).
CHAINS = {
    "local": {
        "chain_id": 31337,
        "rpc_urls": ["http://127.0.0.1:9"],
        "tokens": {"USDC": {"address": "0x" + "11" * 20}},
    }
}
_addresses = iter(range(1, 1_000_000))
_codes = iter(range(1, 1_000_000))


def fresh_address() -> str:
    """A receiving address no account has yet (each belongs to one account)."""
    return f"0x{next(_addresses):040x}"


Body = Callable[["Side"], dict[str, Any]]


def inbound_event_row(account_id: str, livemode: bool) -> InboundEvent:
    return InboundEvent(
        id=new_id("iev"),
        provider="stripe",
        credentials_id=f"pcr_{account_id[-8:]}",
        account_id=account_id,
        livemode=livemode,
        event_id=new_id("evt"),
        event_type="payment_intent.succeeded",
        payload={"id": "evt_1", "type": "payment_intent.succeeded"},
        status="processed",
        attempts=1,
        received_at=datetime.now(UTC),
    )


def _since(_: Side) -> dict[str, Any]:
    return {"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}


# A valid body for every operation that takes one, made with the caller's own objects.
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/v1/auth/token"): lambda s: {"email": ADMIN_EMAIL, "password": PASSWORD},
    # The caller's own mock credentials exist already: the create replaces nothing (one per
    # kind and mode), so the world deletes them first (``fresh_credentials``).
    ("POST", "/v1/provider_credentials"): lambda s: mock_credentials(s.livemode),
    ("POST", "/v1/provider_credentials/{credentials_id}"): lambda s: {"description": "changed"},
    ("POST", "/v1/api_keys"): lambda s: {"name": "minted", "scopes": ["api_keys"]},
    ("POST", "/v1/webhook_endpoints"): lambda s: {"url": HOOK},
    ("POST", "/v1/webhook_endpoints/{endpoint_id}"): lambda s: {"description": "changed"},
    ("PATCH", "/v1/webhook_endpoints/{endpoint_id}"): lambda s: {"description": "changed"},
    ("POST", "/v1/webhook_endpoints/{endpoint_id}/rotate_secret"): lambda s: {},
    ("POST", "/v1/webhook_endpoints/{endpoint_id}/recover"): _since,
    ("POST", "/v1/events/{event_id}/replay"): lambda s: {"webhook_endpoint": s.objects["endpoint"]},
    ("POST", "/v1/payments"): lambda s: {"amount": AMOUNT, "payment_method": "pm_card_visa"},
    ("POST", "/v1/payments/{payment_id}/capture"): lambda s: {},
    ("POST", "/v1/payments/{payment_id}/refund"): lambda s: {},
    ("POST", "/v1/payment_methods"): lambda s: {"token": "pm_card_visa"},
    ("POST", "/v1/payment_methods/{method_id}"): lambda s: {"metadata": {"k": "v"}},
    ("PUT", "/v1/payment_methods/{method_id}"): lambda s: {"metadata": {"k": "v"}},
    ("POST", "/v1/customers"): lambda s: {"email": "buyer@example.test"},
    ("POST", "/v1/customers/{customer_id}"): lambda s: {"name": "Changed"},
    ("PATCH", "/v1/customers/{customer_id}"): lambda s: {"name": "Changed"},
    ("POST", "/v1/payment_sessions"): lambda s: {"amount": AMOUNT},
    ("POST", "/v1/payment_sessions/{session_id}/expire"): lambda s: {},
    ("POST", "/v1/payment_sessions/{session_id}/transactions"): lambda s: {
        "tx_hash": "0x" + "ab" * 32
    },
    ("POST", "/v1/receiving_addresses"): lambda s: {"chain": "local", "address": fresh_address()},
    ("POST", "/v1/chain_transfers/{transfer_id}/assign"): lambda s: {
        "payment_session": s.objects["payment_session"]
    },
    ("POST", "/v1/affiliates"): lambda s: {
        "code": f"aff{next(_codes)}",
        "name": "Affiliate",
        "email": "affiliate@example.test",
    },
    ("POST", "/v1/affiliates/{affiliate_id}"): lambda s: {"name": "Changed"},
    ("POST", "/v1/affiliates/{affiliate_id}/payees"): lambda s: {},
    ("POST", "/v1/subscription_events"): lambda s: {
        "event_id": f"evt{next(_codes)}",
        "type": "new",
        "affiliate_code": s.objects["affiliate_code"],
        "subscription_id": "sub_1",
        "amount": AMOUNT,
        "occurred_at": "2026-01-27T10:00:00Z",
    },
    ("POST", "/v1/commissions/approve"): lambda s: {"ids": [s.objects["commission"]]},
    ("POST", "/v1/payout_batches"): lambda s: {},
    ("POST", "/v1/payment_sessions/{session_id}/refunds"): lambda s: {},
    ("POST", "/v1/refunds"): lambda s: {"payment_id": s.objects["payment_session"]},
}
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/v1/reports/reconciliation"): {"date": datetime.now(UTC).date().isoformat()},
}


def mock_credentials(livemode: bool) -> dict[str, Any]:
    mode = "live" if livemode else "test"
    return {"kind": "mock", "fields": {"secret_key": f"sk_{mode}_mock_0123456789abcdef"}}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass
class Side:
    """One account in one mode: its key with every scope, and one object of each kind."""

    name: str
    account_id: str
    livemode: bool
    secret: str
    objects: dict[str, str] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return bearer(self.secret)

    def __str__(self) -> str:
        return f"{self.name} {'live' if self.livemode else 'test'}"


def payment_kind(op: Op) -> str:
    """Capture and cancel act on an authorized payment, confirming and the customer's action
    on one waiting for the customer (3-D Secure), the rest on a captured one."""
    if op.path.endswith(("/confirm", "/complete_action")):
        return "action"
    return "authorized" if op.path.endswith(("/capture", "/cancel")) else "payment"


class World:
    def __init__(self, db: Backend, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.db, self.app, self.client = db, app, client
        self.ops: list[Op] = []
        self.sides: dict[tuple[str, bool], Side] = {}
        self._keys: dict[tuple[frozenset[str], bool], dict[str, str]] = {}
        self.admin: dict[str, str] = {}
        self.manager: dict[str, str] = {}

    # -- building ------------------------------------------------------------------------------
    async def build(self) -> World:
        from tests.security.scope_table import operations

        self.ops = operations((await self.client.get("/openapi.json")).json())
        with self.live_payments():  # live objects exist too, so modes can be told apart
            for name in ("victim", "hostile"):
                async with transaction(self.db.sessions) as session:
                    account = await create_account(session, name=name)
                for livemode in (False, True):
                    side = await self._side(name, account.id, livemode)
                    self.sides[(name, livemode)] = side
        await self._users()
        jobs = await self.client.get("/v1/jobs", headers=self.admin, params={"limit": 1})
        for side in self.sides.values():
            side.objects["job"] = jobs.json()["data"][0]["id"]
        return self

    async def _side(self, name: str, account_id: str, livemode: bool) -> Side:
        async with transaction(self.db.sessions) as session:
            issued = await create_api_key(
                session, account_id=account_id, livemode=livemode, scopes=SCOPES, name="owner"
            )
        side = Side(name, account_id, livemode, issued.secret, {"key": issued.api_key.id})
        for kind in (
            "customer",
            "payment_method",
            "payment",
            "authorized",
            "action",
            "endpoint",
            "receiving_address",
            "payment_session",
            "affiliate",
            "payee",
            "commission",
            "payout_batch",
        ):
            side.objects[kind] = await self.make(side, kind)
        side.objects["refund"] = await self.make(side, "refund")
        side.objects["dispute"] = await self.make(side, "dispute")
        side.objects["inbound_event"] = await self.make(side, "inbound_event")
        side.objects["chain_transfer"] = await self.make(side, "chain_transfer")
        events = await self.client.get("/v1/events", headers=side.auth)
        side.objects["event"] = events.json()["data"][0]["id"]
        # Last: from here on the side's test payments use its own (mock) credentials.
        side.objects["credentials"] = await self.make(side, "credentials")
        return side

    async def _users(self) -> None:
        hostile = self.sides[("hostile", False)].account_id
        async with transaction(self.db.sessions) as session:
            await create_user(
                session, email=ADMIN_EMAIL, password=PASSWORD, role="admin", account_id=None
            )
            await create_user(
                session, email=MANAGER_EMAIL, password=PASSWORD, role="manager", account_id=hostile
            )
        for email, attr in ((ADMIN_EMAIL, "admin"), (MANAGER_EMAIL, "manager")):
            token = await self.client.post(
                "/v1/auth/token", json={"email": email, "password": PASSWORD}
            )
            setattr(self, attr, bearer(token.json()["access_token"]))

    async def _post(self, side: Side, path: str, body: dict[str, Any]) -> str:
        response = await self.client.post(path, headers=side.auth, json=body)
        assert response.status_code in (200, 201, 202), (path, response.text)
        return str(response.json()["id"])

    async def make(self, side: Side, kind: str) -> str:
        """A new object of ``kind`` in ``side``."""
        if kind == "key":
            async with transaction(self.db.sessions) as session:
                issued = await create_api_key(
                    session, account_id=side.account_id, livemode=side.livemode, scopes=["api_keys"]
                )
            return issued.api_key.id
        if kind == "customer":
            return await self._post(side, "/v1/customers", {"email": "buyer@example.test"})
        if kind == "payment_method":
            return await self._post(side, "/v1/payment_methods", {"token": "pm_card_visa"})
        if kind in ("payment", "authorized", "action"):
            body = {
                "amount": AMOUNT,
                "payment_method": "pm_card_threeDSecure" if kind == "action" else "pm_card_visa",
                "capture": kind != "authorized",
            }
            return await self._post(side, "/v1/payments", body)
        if kind == "refund":
            return await self._post(side, f"/v1/payments/{side.objects['payment']}/refund", {})
        if kind == "endpoint":
            return await self._post(side, "/v1/webhook_endpoints", {"url": HOOK})
        if kind == "receiving_address":
            body = {"chain": "local", "address": fresh_address()}
            return await self._post(side, "/v1/receiving_addresses", body)
        if kind == "payment_session":
            return await self._post(side, "/v1/payment_sessions", {"amount": AMOUNT})
        if kind == "dispute":  # only a provider opens one: as its event would
            return await open_dispute(self.db.sessions, side.objects["payment"])
        if kind == "inbound_event":  # what a provider's webhook to the side's credentials stores
            async with transaction(self.db.sessions) as session:
                row = inbound_event_row(side.account_id, side.livemode)
                session.add(row)
            return row.id
        if kind == "chain_transfer":  # what the monitor records for the side's address
            return await self._chain_transfer(side)
        if kind == "affiliate":
            body = BODIES[("POST", "/v1/affiliates")](side)
            side.objects["affiliate_code"] = body["code"]
            return await self._post(side, "/v1/affiliates", body)
        if kind == "commission":
            body = BODIES[("POST", "/v1/subscription_events")](side)
            response = await self.client.post(
                "/v1/subscription_events", headers=side.auth, json=body
            )
            assert response.status_code == 201, response.text
            return str(response.json()["commissions"][0]["id"])
        if kind == "payee":
            return await self._post(side, f"/v1/affiliates/{side.objects['affiliate']}/payees", {})
        if kind == "payout_batch":
            return await self._payout_batch(side)
        if kind == "credentials":
            await self.fresh_credentials(side)
            made = await self._post(
                side, "/v1/provider_credentials", mock_credentials(side.livemode)
            )
            side.objects["credentials"] = made
            return made
        raise AssertionError(f"no way to make a new {kind}")

    async def _chain_transfer(self, side: Side) -> str:
        """An unmatched transfer of 10.00 USDC to the side's receiving address."""
        from kassa.chain.models import SEEN, ChainTransfer, ReceivingAddress

        now = datetime.now(UTC)
        async with transaction(self.db.sessions) as session:
            address = await session.get(ReceivingAddress, side.objects["receiving_address"])
            assert address is not None
            row = ChainTransfer(
                id=new_id("ctr"),
                chain="local",
                token_address=CHAINS["local"]["tokens"]["USDC"]["address"],
                token_symbol="USDC",
                tx_hash="0x" + new_id("tx").encode().hex()[:64].ljust(64, "0"),
                log_index=0,
                block_number=1,
                block_hash="0x" + "cd" * 32,
                block_time=now,
                from_address="0x" + "22" * 20,
                to_address=address.address,
                value="10000000",
                status=SEEN,
                confirmations=0,
                seen_at=now,
                confirmed_at=None,
                reorged_at=None,
                updated_at=now,
            )
            session.add(row)
        return row.id

    async def _payout_batch(self, side: Side) -> str:
        """A batch of one payee whose KYC is approved (set here: no payout provider runs); a
        live one's payee is at Rise (the mock pays test mode only, and nothing here pays)."""
        from sqlalchemy import update

        from kassa.payouts.models import Payee

        affiliate = await self.make(side, "affiliate")
        payee = await self._post(
            side, f"/v1/affiliates/{affiliate}/payees", {"provider_payee_id": fresh_address()}
        )
        async with transaction(self.db.sessions) as session:
            await session.execute(
                update(Payee)
                .where(Payee.id == payee)
                .values(kyc_status="approved", provider="rise" if side.livemode else "mock")
            )
        body = {
            **BODIES[("POST", "/v1/subscription_events")](side),
            "amount": {"value": "1000.00", "currency": "USD"},  # earns 100.00 at 10 %
        }
        made = await self.client.post("/v1/subscription_events", headers=side.auth, json=body)
        commission = made.json()["commissions"][0]["id"]
        await self.client.post(f"/v1/commissions/{commission}/approve", headers=side.auth)
        batches = await self.client.post("/v1/payout_batches", headers=side.auth, json={})
        assert batches.status_code == 201, batches.text
        return str(batches.json()["data"][0]["id"])

    async def fresh_credentials(self, side: Side) -> None:
        """Delete the side's credentials (one set per kind and mode), so new ones can be made."""
        current = side.objects.get("credentials")
        if current:
            path = f"/v1/provider_credentials/{current}"
            response = await self.client.delete(path, headers=side.auth)
            assert response.status_code in (200, 404), response.text
            del side.objects["credentials"]

    @contextmanager
    def live_payments(self) -> Iterator[None]:
        """The mock provider takes live-mode payments while this lasts (it refuses them
        otherwise, before any id in the request is looked at): the install's mock and those
        built from accounts' own (mock) credentials alike."""
        MockProvider.test_only = False
        try:
            yield
        finally:
            MockProvider.test_only = True

    # -- using ---------------------------------------------------------------------------------
    def side(self, name: str, livemode: bool) -> Side:
        return self.sides[(name, livemode)]

    def foreign_pairs(self) -> list[tuple[Side, Side]]:
        """(caller, owner of the ids): another account in the same mode, the same account in
        the other mode, another account in the other mode."""
        return [
            (self.side("hostile", caller), self.side(owner, mode))
            for caller in (False, True)
            for owner, mode in (("victim", caller), ("hostile", not caller), ("victim", not caller))
        ]

    def ids_for(self, op: Op, owner: Side) -> dict[str, str]:
        ids = {}
        for param in op.path_params:
            assert param in PARAM_KIND, f"{op}: add {param!r} to PARAM_KIND (and a way to make one)"
            kind = PARAM_KIND[param]
            ids[param] = owner.objects[payment_kind(op) if kind == "payment" else kind]
        return ids

    async def fresh_ids(self, op: Op, owner: Side) -> dict[str, str]:
        """Ids for a call that should succeed: new objects for anything that changes them."""
        ids = self.ids_for(op, owner)
        if op.method == "GET":
            return ids
        for param in op.path_params:
            kind = PARAM_KIND[param]
            if kind == "affiliate" and "payee_id" in op.path_params:
                continue  # a new payee is made under the side's affiliate
            if kind not in ("event", "job"):  # replaying an event or retrying a job consumes none
                ids[param] = await self.make(owner, payment_kind(op) if kind == "payment" else kind)
        return ids

    async def key(self, scopes: Iterable[str], livemode: bool) -> dict[str, str]:
        """The auth header of a hostile key with exactly ``scopes``."""
        wanted = frozenset(scopes)
        if (wanted, livemode) not in self._keys:
            async with transaction(self.db.sessions) as session:
                issued = await create_api_key(
                    session,
                    account_id=self.side("hostile", livemode).account_id,
                    livemode=livemode,
                    scopes=sorted(wanted),
                )
            self._keys[(wanted, livemode)] = bearer(issued.secret)
        return self._keys[(wanted, livemode)]

    async def call(
        self, op: Op, *, auth: Mapping[str, str], ids: Mapping[str, str], own: Side
    ) -> httpx.Response:
        path = op.path.format(**{p: ids[p] for p in op.path_params})
        body = None
        if op.has_body:
            assert op.key in BODIES, f"{op}: add a valid body to BODIES"
            body = BODIES[op.key](own)
        if op.key == ("POST", "/v1/provider_credentials"):
            await self.fresh_credentials(own)  # the caller's, so its create can succeed
        response = await self.client.request(
            op.method, path, headers=dict(auth), json=body, params=QUERIES.get(op.key)
        )
        if op.key == ("POST", "/v1/provider_credentials"):
            if response.is_success:
                own.objects["credentials"] = str(response.json()["id"])
            else:  # refused: the side gets credentials back for the operations after this
                await self.make(own, "credentials")
        return response
