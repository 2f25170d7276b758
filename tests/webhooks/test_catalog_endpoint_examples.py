"""The webhook_endpoint.* examples in the catalog have the shape those events really carry."""

from __future__ import annotations

import httpx

from kassa.jobs.catalog import CATALOG
from kassa.webhooks.outbound.catalog import DISABLED, FAILING, PING, RECOVERED
from kassa.webhooks.outbound.endpoints import to_dict
from tests.conftest import Backend
from tests.factories import Merchant
from tests.webhooks.conftest import create_endpoint
from tests.webhooks.helpers import endpoint


async def test_endpoint_event_examples_carry_every_field_of_the_real_data(
    api: httpx.AsyncClient, db: Backend, acme: Merchant
) -> None:
    created = await create_endpoint(api, acme, "https://93.184.215.14/hook")
    real = to_dict(await endpoint(db, created["id"]))  # what health._notify emits
    for name in (FAILING, DISABLED, RECOVERED):
        assert list(CATALOG[name].example) == list(real), name
    assert set(CATALOG[PING].example) == {"webhook_endpoint", "message"}


def test_endpoint_event_examples_fit_their_state() -> None:
    failing, disabled, recovered = (CATALOG[n].example for n in (FAILING, DISABLED, RECOVERED))
    assert failing["enabled"] and failing["failing_since"] and not failing["disabled_reason"]
    assert not disabled["enabled"] and disabled["disabled_reason"] == "failing"
    assert recovered["enabled"] and recovered["failing_since"] is None
    assert recovered["last_success_at"] is not None
