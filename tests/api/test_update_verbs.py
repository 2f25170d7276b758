"""Updates are POSTs on every resource, as at Stripe; PATCH and PUT stay as deprecated aliases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Backend
from tests.factories import Merchant, merchant

# resource: (how to create one, a change, the field that shows it, the alias verb)
RESOURCES: dict[str, tuple[str, dict[str, Any], dict[str, Any], str, str]] = {
    "customers": (
        "/v1/customers",
        {"name": "Ada"},
        {"name": "Ada L."},
        "name",
        "PATCH",
    ),
    "payment_methods": (
        "/v1/payment_methods",
        {"token": "pm_card_visa"},
        {"metadata": {"label": "work"}},
        "metadata",
        "PUT",
    ),
    "webhook_endpoints": (
        "/v1/webhook_endpoints",
        {"url": "http://127.0.0.1:9/hook"},
        {"description": "orders"},
        "description",
        "PATCH",
    ),
}


async def _create(api: httpx.AsyncClient, m: Merchant, path: str, body: dict[str, Any]) -> str:
    created = await api.post(path, json=body, headers=m.auth)
    assert created.status_code == 201, created.text
    object_id: str = created.json()["id"]
    return object_id


@pytest.mark.parametrize("resource", list(RESOURCES))
async def test_post_updates_every_resource_and_the_alias_still_works(
    api: httpx.AsyncClient, db: Backend, resource: str
) -> None:
    path, body, change, field, alias = RESOURCES[resource]
    acme = await merchant(db.sessions)
    object_id = await _create(api, acme, path, body)
    updated = await api.post(
        f"{path}/{object_id}", json=change, headers={**acme.auth, "Idempotency-Key": "upd-1"}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()[field] == change[field]
    fetched = await api.get(f"{path}/{object_id}", headers=acme.auth)
    assert fetched.json()[field] == change[field]

    other = await _create(api, acme, path, body)
    aliased = await api.request(alias, f"{path}/{other}", json=change, headers=acme.auth)
    assert aliased.status_code == 200, aliased.text
    assert aliased.json()[field] == change[field]


async def test_the_openapi_shows_post_as_the_update_and_the_aliases_deprecated(
    api: httpx.AsyncClient, db: Backend
) -> None:
    spec = (await api.get("/openapi.json")).json()
    for resource, (path, *_, alias) in RESOURCES.items():
        item = f"{path}/{{{next(iter(_item_params(spec, path)))}}}"
        operations = spec["paths"][item]
        update = operations["post"]
        assert not update.get("deprecated"), resource
        assert update["operationId"] == f"update_{resource.removesuffix('s')}", resource
        assert operations[alias.lower()]["deprecated"] is True, resource
        assert (
            operations[alias.lower()]["operationId"] == f"{update['operationId']}_{alias.lower()}"
        )
    for item, operations in spec["paths"].items():
        for verb in ("put", "patch"):
            if verb in operations:
                assert operations[verb].get("deprecated") is True, (verb, item)
                assert "post" in operations, (verb, item)


def _item_params(spec: dict[str, Any], path: str) -> list[str]:
    """The name of the id parameter of ``path/{id}``."""
    prefix = f"{path}/{{"
    return [
        p[len(prefix) : -1]
        for p in spec["paths"]
        if p.startswith(prefix) and p.endswith("}") and "/" not in p[len(prefix) :]
    ]
