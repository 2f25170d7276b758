"""The Stripe stand-in's objects, field by field against Stripe's own example objects, so it
cannot drift: the same top-level keys, every key of Stripe's nested objects present, the same
JSON types (null standing for any value: Stripe's example and ours fill different nullable
fields).

Stripe publishes the examples in github.com/stripe/openapi (fixtures3.json, MIT); the ones
checked here are kept beside the stand-in (stripe/stripe_examples.json), so a fresh clone runs
this test, and are checked against ../shared/reference/stripe/fixtures3.json (or
$KASSA_SHARED_DIR/reference/...) when that copy is there."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.stripe import TEST_KEY, FakeStripe

EXAMPLES = Path(__file__).parent / "stripe" / "stripe_examples.json"
SHARED = [
    Path(os.environ.get("KASSA_SHARED_DIR", "/nonexistent")),
    Path(__file__).resolve().parents[2].parent / "shared",
]
# Free-form maps, and objects whose shape depends on what they hold.
FREE_FORM = {"metadata", "previous_attributes"}
POLYMORPHIC = {"event.data.object"}


def _resources() -> dict[str, Any]:
    return json.loads(EXAMPLES.read_text())["resources"]  # type: ignore[no-any-return]


def test_the_kept_examples_are_stripes() -> None:
    found = [d / "reference" / "stripe" / "fixtures3.json" for d in SHARED]
    published = next((path for path in found if path.exists()), None)
    if published is None:
        pytest.skip("the shared reference data is not next to this checkout")
    resources = json.loads(published.read_text())["resources"]
    for name, example in _resources().items():
        assert example == resources[name], name


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def differences(ours: Any, theirs: Any, path: str, *, top: bool = False) -> list[str]:
    if ours is None or theirs is None or path in POLYMORPHIC:
        return []
    if _kind(ours) != _kind(theirs):
        return [f"{path}: {_kind(ours)} where Stripe has {_kind(theirs)}"]
    found: list[str] = []
    if isinstance(theirs, dict):
        if path.rsplit(".", 1)[-1] in FREE_FORM:
            return []
        found += [f"{path}.{key}: missing" for key in theirs.keys() - ours.keys()]
        if top:
            found += [
                f"{path}.{key}: not in Stripe's object" for key in ours.keys() - theirs.keys()
            ]
        for key in theirs.keys() & ours.keys():
            found += differences(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, list) and theirs and ours:
        found += differences(ours[0], theirs[0], f"{path}[0]")
    return found


@pytest.fixture
async def objects() -> AsyncIterator[dict[str, list[dict[str, Any]]]]:
    """Every kind of object the stand-in makes, in each state a payment passes through."""
    async with FakeStripe() as fake:
        auth = {"Authorization": f"Bearer {TEST_KEY}"}
        async with httpx.AsyncClient(base_url=fake.base_url, headers=auth) as http:

            async def post(path: str, data: dict[str, str]) -> dict[str, Any]:
                answer = await http.post(path, data=data)
                return answer.json()  # type: ignore[no-any-return]

            never = {
                "automatic_payment_methods[enabled]": "true",
                "automatic_payment_methods[allow_redirects]": "never",
            }
            customer = await post("/v1/customers", {"email": "jenny@example.com"})
            method = await post(
                "/v1/payment_methods/pm_card_visa/attach", {"customer": customer["id"]}
            )
            held = await post(
                "/v1/payment_intents",
                {
                    "amount": "2000",
                    "currency": "usd",
                    "confirm": "true",
                    "customer": customer["id"],
                    "payment_method": method["id"],
                    "capture_method": "manual",
                    **never,
                },
            )
            paid = await post(
                f"/v1/payment_intents/{held['id']}/capture", {"amount_to_capture": "1500"}
            )
            refund = await post("/v1/refunds", {"payment_intent": paid["id"], "amount": "500"})
            waiting = await post(
                "/v1/payment_intents",
                {
                    "amount": "900",
                    "currency": "eur",
                    "confirm": "true",
                    "payment_method": "pm_card_authenticationRequired",
                    "return_url": "https://x.example/r",
                },
            )
            declined = (
                await post(
                    "/v1/payment_intents",
                    {
                        "amount": "700",
                        "currency": "usd",
                        "confirm": "true",
                        "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
                        **never,
                    },
                )
            )["error"]["payment_intent"]
            await fake.open_dispute(paid["id"])
            (dispute_id,) = fake.state.disputes
            dispute = (await http.get(f"/v1/disputes/{dispute_id}")).json()
            charge = (await http.get(f"/v1/charges/{paid['latest_charge']}")).json()
            failed_charge = (await http.get(f"/v1/charges/{declined['latest_charge']}")).json()
            events = [
                (await http.get(f"/v1/events/{e['id']}")).json() for e in fake.state.event_log[:3]
            ]
        yield {
            "customer": [customer],
            "payment_method": [method],
            "payment_intent": [held, paid, waiting, declined],
            "charge": [charge, failed_charge],
            "refund": [refund],
            "event": events,
            "dispute": [dispute],
        }


@pytest.mark.parametrize(
    "resource",
    ["payment_intent", "charge", "refund", "payment_method", "customer", "event", "dispute"],
)
def test_the_stand_ins_objects_have_stripes_shape(
    objects: dict[str, list[dict[str, Any]]], resource: str
) -> None:
    example = _resources()[resource]
    for made in objects[resource]:
        assert made["object"] == example["object"]
        assert differences(made, example, resource, top=True) == []


def test_the_check_catches_drift() -> None:
    example = {
        "id": "x",
        "amount": 1,
        "card": {"brand": "visa", "last4": "4242"},
        "metadata": {"a": "b"},
    }
    ours = {"id": "x", "amount": "1", "card": {"brand": "visa"}, "metadata": {}, "extra": True}
    assert sorted(differences(ours, example, "thing", top=True)) == [
        "thing.amount: str where Stripe has number",
        "thing.card.last4: missing",
        "thing.extra: not in Stripe's object",
    ]
