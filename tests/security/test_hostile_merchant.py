"""A merchant trying to reach what is not theirs, over every operation of /openapi.json.

Operations are enumerated from the served document, so a new endpoint is covered as soon as
it exists: it fails here until it has a row in the scope table (scope_table.py and
docs/api.md) and, if it takes a body or a new kind of id, a way to make them (world.py).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import httpx
from sqlalchemy import func, select

from kassa.accounts.models import SCOPES
from kassa.core.audit import AuditEntry
from tests.security.scope_table import ADMIN, NEEDS, PUBLIC, Op, documented, operations
from tests.security.world import World

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# An admin may retry only dead jobs; any other is 409 once the role check let it through.
ALLOWED = {
    ("POST", "/v1/jobs/{job_id}/retry"): {409},
    # The mock payout provider answers: a payee not invited yet has no account there to sync.
    ("POST", "/v1/affiliates/{affiliate_id}/payees/{payee_id}/sync"): {409},
    # No chain is paid in this world: a found, unpaid session is session_not_refundable.
    ("POST", "/v1/payment_sessions/{session_id}/refunds"): {400},
    ("POST", "/v1/refunds"): {400},
}


def allowed(op: Op, response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300 or response.status_code in ALLOWED.get(op.key, ())


def problem_code(response: httpx.Response) -> str | None:
    try:
        return str(response.json().get("code"))
    except ValueError:
        return None


async def refusal_count(world: World) -> int:
    async with world.db.sessions() as session:
        query = select(func.count()).select_from(AuditEntry)
        return int(await session.scalar(query.where(AuditEntry.action == "access.denied")) or 0)


async def test_every_operation_has_its_row_in_the_table_and_the_docs(
    client: httpx.AsyncClient,
) -> None:
    served = {op.key for op in operations((await client.get("/openapi.json")).json())}
    assert sorted(served - set(NEEDS)) == [], "add these to scope_table.NEEDS and docs/api.md"
    assert sorted(set(NEEDS) - served) == [], "these rows name operations that do not exist"
    assert documented(DOCS) == NEEDS  # docs/api.md says exactly what is enforced


async def test_another_accounts_or_modes_ids_are_404(world: World) -> None:
    wrong = []
    for op in world.ops:
        if not op.path_params or op.need in (PUBLIC, ADMIN):
            continue  # jobs are the operators' (admin role), across accounts by design
        for caller, owner in world.foreign_pairs():
            ids = world.ids_for(op, owner)
            response = await world.call(op, auth=caller.auth, ids=ids, own=caller)
            if response.status_code != 404 or problem_code(response) != "resource_missing":
                wrong.append(f"{op} as {caller} with {owner}'s ids: {response.status_code}")
    assert wrong == []
    # and nothing of the victim changed
    for livemode in (False, True):
        victim = world.side("victim", livemode)
        assert (await world.client.get("/v1/account", headers=victim.auth)).status_code == 200
        payment = await world.client.get(
            f"/v1/payments/{victim.objects['authorized']}", headers=victim.auth
        )
        assert payment.json()["status"] == "requires_capture"
        endpoint = await world.client.get(
            f"/v1/webhook_endpoints/{victim.objects['endpoint']}", headers=victim.auth
        )
        assert endpoint.status_code == 200 and endpoint.json()["description"] is None
        customer = await world.client.get(
            f"/v1/customers/{victim.objects['customer']}", headers=victim.auth
        )
        assert customer.json()["name"] is None
        method = await world.client.get(
            f"/v1/payment_methods/{victim.objects['payment_method']}", headers=victim.auth
        )
        assert method.status_code == 200 and not method.json().get("metadata")


async def test_each_scope_does_exactly_what_the_table_says(world: World) -> None:
    wrong = []
    denials = 0
    own = world.side("hostile", False)
    for op in world.ops:
        if op.need == PUBLIC:
            response = await world.call(op, auth={}, ids={}, own=own)
            if not allowed(op, response):
                wrong.append(f"{op} without credentials: {response.status_code}")
            continue
        if op.need == ADMIN:
            refused = [own.auth, world.side("hostile", True).auth, world.manager]
            for auth in refused:
                response = await world.call(op, auth=auth, ids=world.ids_for(op, own), own=own)
                denials += 1
                if response.status_code != 403 or problem_code(response) != "insufficient_role":
                    wrong.append(f"{op} without the admin role: {response.status_code}")
            response = await world.call(op, auth=world.admin, ids=world.ids_for(op, own), own=own)
            if not allowed(op, response):
                wrong.append(f"{op} as admin: {response.status_code} {response.text[:200]}")
            continue
        exact = await world.key(op.scopes, livemode=False)
        response = await world.call(op, auth=exact, ids=await world.fresh_ids(op, own), own=own)
        if not allowed(op, response):
            wrong.append(f"{op} with {sorted(op.scopes)}: {response.status_code} {response.text}")
        for scope in sorted(op.scopes):
            for livemode in (False, True):
                side = world.side("hostile", livemode)
                lacking = await world.key(set(SCOPES) - {scope}, livemode)
                response = await world.call(op, auth=lacking, ids=world.ids_for(op, side), own=side)
                denials += 1
                body = response.json()
                if response.status_code != 403 or body.get("code") != "insufficient_scope":
                    wrong.append(f"{op} without {scope!r}: {response.status_code}")
                elif body.get("required_scope") != scope:
                    wrong.append(f"{op} without {scope!r} names {body.get('required_scope')!r}")
    assert wrong == []
    assert await refusal_count(world) == denials  # every refusal is in the audit log


async def test_lists_show_nothing_of_another_account_or_mode(world: World) -> None:
    for caller in (world.side("hostile", False), world.side("hostile", True)):
        foreign = {
            value
            for side in world.sides.values()
            if side is not caller
            for kind, value in side.objects.items()
            if kind != "job"
        } | {world.side("victim", False).account_id}
        for op in world.ops:
            if op.method != "GET" or op.path_params or op.need in (PUBLIC, ADMIN):
                continue
            response = await world.call(op, auth=caller.auth, ids={}, own=caller)
            assert response.status_code == 200, (str(op), response.text)
            leaked = sorted(i for i in foreign if i in response.text)
            assert leaked == [], f"{op} as {caller} shows {leaked}"


async def test_ids_in_a_body_of_another_account_or_mode_are_404(world: World) -> None:
    for caller, owner in world.foreign_pairs():
        other = owner.objects
        attempts = [
            ("/v1/payments", {"amount": {"value": "1.00", "currency": "USD"},
                              "payment_method": "pm_card_visa", "customer_id": other["customer"]}),
            ("/v1/payments", {"amount": {"value": "1.00", "currency": "USD"},
                              "payment_method_id": other["payment_method"]}),
            ("/v1/payment_methods", {"token": "pm_card_visa", "customer_id": other["customer"]}),
            (f"/v1/events/{caller.objects['event']}/replay",
             {"webhook_endpoint": other["endpoint"]}),
            ("/v1/commissions/approve", {"ids": [other["commission"]]}),
        ]  # fmt: skip
        for path, body in attempts:
            with world.live_payments():
                response = await world.client.post(path, headers=caller.auth, json=body)
            assert response.status_code == 404, (path, str(caller), str(owner), response.text)
    for side in world.sides.values():  # nothing was made with another's objects
        listed = await world.client.get("/v1/payments", headers=side.auth, params={"limit": 100})
        assert len(listed.json()["data"]) == 3  # payment, authorized, action


async def test_no_key_mints_a_key_with_more_than_it_holds(world: World) -> None:
    plain = ("read", "write", "refund")
    for size in range(len(plain) + 1):
        for held in combinations(plain, size):
            for livemode in (False, True):
                auth = await world.key({*held, "api_keys"}, livemode)
                for extra in sorted(set(plain) - set(held)):
                    wider = await world.client.post(
                        "/v1/api_keys", headers=auth, json={"scopes": [*held, extra]}
                    )
                    assert wider.status_code == 403, (held, extra, wider.text)
                    assert wider.json()["code"] == "scope_exceeds_own"
                other_mode = await world.client.post(
                    "/v1/api_keys",
                    headers=auth,
                    json={"scopes": ["api_keys"], "livemode": not livemode},
                )
                assert other_mode.status_code == 403
                assert other_mode.json()["code"] == "livemode_mismatch"
    # the manager of the hostile account cannot manage keys at all
    manager = await world.client.post("/v1/api_keys", headers=world.manager, json={})
    assert manager.status_code == 403 and manager.json()["code"] == "insufficient_scope"


async def test_a_replayed_response_never_reaches_other_credentials(world: World) -> None:
    owner = world.side("hostile", False)
    body = {"name": "ci", "scopes": list(SCOPES)}
    first = await world.client.post(
        "/v1/api_keys", headers={**owner.auth, "Idempotency-Key": "k-1"}, json=body
    )
    assert first.status_code == 201
    for auth in (await world.key({"api_keys"}, False), await world.key({"api_keys"}, True)):
        again = await world.client.post(
            "/v1/api_keys", headers={**auth, "Idempotency-Key": "k-1"}, json=body
        )
        assert first.json()["secret"] not in again.text
