"""The provider credentials resource: write-only secrets, one set per kind and mode, each key
managing only its own account's credentials of its own mode."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from kassa.accounts.models import DEFAULT_SCOPES
from kassa.core.audit import AuditEntry
from kassa.schema import metadata
from tests.accounts.credentials_kit import FAKEPAY, fakepay_kind, mock_fields, serve
from tests.conftest import Backend
from tests.factories import Merchant, merchant

PATH = "/v1/provider_credentials"


async def _create(
    client: httpx.AsyncClient, owner: Merchant, fields: dict[str, str], kind: str = "mock"
) -> httpx.Response:
    return await client.post(PATH, headers=owner.auth, json={"kind": kind, "fields": fields})


async def _everything_stored(db: Backend) -> str:
    """Every row of every table, as text: where a secret in clear would show."""
    dump = []
    async with db.sessions() as session:
        for table in metadata.sorted_tables:
            rows = (await session.execute(text(f"SELECT * FROM {table.name}"))).all()
            dump += [repr(tuple(row)) for row in rows]
    return "\n".join(dump)


async def test_secrets_are_write_only_everywhere(
    db: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fields = mock_fields(tail="4242")
    secret = fields["secret_key"]
    async with serve(db, tmp_path, public_url="https://pay.example.com") as s:
        owner = await merchant(db.sessions)
        created = await s.client.post(
            PATH,
            headers={**owner.auth, "Idempotency-Key": "creds-1"},
            json={"kind": "mock", "fields": fields, "description": "main"},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret_hints"] == {"secret_key": "sk_test_…4242"}
        assert body["fields"] == {} and body["livemode"] is False
        pcr = body["id"]
        assert pcr.startswith("pcr_")
        assert body["webhook_url"] == f"https://pay.example.com/webhooks/mock/{pcr}"
        responses = [
            created,
            await s.client.get(PATH, headers=owner.auth),
            await s.client.get(f"{PATH}/{pcr}", headers=owner.auth),
            await s.client.post(
                f"{PATH}/{pcr}", headers=owner.auth, json={"fields": mock_fields(tail="9999")}
            ),
            await s.client.post(  # a replay of the create answers what was stored
                PATH,
                headers={**owner.auth, "Idempotency-Key": "creds-1"},
                json={"kind": "mock", "fields": fields, "description": "main"},
            ),
        ]
        assert responses[3].json()["secret_hints"] == {"secret_key": "sk_test_…9999"}
        paid = await s.client.post(
            "/v1/payments",
            headers=owner.auth,
            json={"amount": {"value": "5.00", "currency": "USD"}, "payment_method": "pm_card_visa"},
        )
        assert paid.status_code == 201, paid.text
        assert (await s.client.delete(f"{PATH}/{pcr}", headers=owner.auth)).status_code == 200
    new_secret = mock_fields(tail="9999")["secret_key"]
    for response in responses:
        assert secret not in response.text and new_secret not in response.text
    assert secret not in caplog.text and new_secret not in caplog.text
    stored = await _everything_stored(db)
    assert secret not in stored and new_secret not in stored
    async with db.sessions() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.object_id == pcr))
        ).all()
    actions = [e.action for e in entries]
    assert sorted(actions) == sorted(
        [
            "provider_credentials.create",
            "provider_credentials.update",
            "provider_credentials.delete",
        ]
    )
    update = next(e for e in entries if e.action == "provider_credentials.update")
    assert update.after is not None and update.after["fields_changed"] == ["secret_key"]
    assert "SeCrEt" not in json.dumps([e.before for e in entries] + [e.after for e in entries])


async def test_one_active_set_per_kind_and_mode(db: Backend, tmp_path: Path) -> None:
    async with serve(db, tmp_path) as s:
        owner = await merchant(db.sessions)
        first = await _create(s.client, owner, mock_fields())
        again = await _create(s.client, owner, mock_fields(tail="1111"))
        assert again.status_code == 409
        assert again.json()["code"] == "provider_credentials_exist"
        assert again.json()["existing"] == first.json()["id"]
        await s.client.delete(f"{PATH}/{first.json()['id']}", headers=owner.auth)
        replaced = await _create(s.client, owner, mock_fields(tail="1111"))
        assert replaced.status_code == 201
        gone = await s.client.get(f"{PATH}/{first.json()['id']}", headers=owner.auth)
        assert gone.status_code == 404
        listed = await s.client.get(PATH, headers=owner.auth)
        assert [c["id"] for c in listed.json()["data"]] == [replaced.json()["id"]]


async def test_bad_input_names_fields_never_values(db: Backend, tmp_path: Path) -> None:
    with fakepay_kind():
        async with serve(db, tmp_path) as s:
            owner = await merchant(db.sessions)
            unknown = await _create(s.client, owner, mock_fields(), kind="nopay")
            assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_provider_kind"
            missing = await _create(s.client, owner, {}, kind=FAKEPAY)
            assert missing.status_code == 400
            assert missing.json()["code"] == "invalid_provider_credentials"
            assert missing.json()["problems"] == ["secret_key is required"]
            stray = await _create(
                s.client, owner, {**mock_fields(), "password": "hunter2-LEAKED"}, kind=FAKEPAY
            )
            assert stray.status_code == 400
            assert stray.json()["problems"] == ["password is not a fakepay field"]
            assert "hunter2" not in stray.text and "SeCrEt" not in stray.text
            made = await _create(s.client, owner, mock_fields(), kind=FAKEPAY)
            flip = await s.client.post(
                f"{PATH}/{made.json()['id']}",
                headers=owner.auth,
                json={"fields": mock_fields(livemode=True)},
            )
            assert flip.status_code == 400
            assert flip.json()["code"] == "provider_credentials_mode_change"
            assert "SeCrEt" not in flip.text


@pytest.mark.parametrize(
    "api_base",
    [
        "http://api.example.com",
        "https://127.0.0.1:8481/",
        "https://10.0.0.7",
        "https://169.254.169.254/latest",
        "https://localhost:9000",
        "https://user:pw@api.example.com",
        "https://metadata.google.internal",
    ],
)
async def test_an_accounts_api_base_never_points_into_the_installs_network(
    db: Backend, tmp_path: Path, api_base: str
) -> None:
    """kassa sends an account's secrets to its api_base: only https to a public host."""
    with fakepay_kind():
        async with serve(db, tmp_path) as s:
            owner = await merchant(db.sessions)
            refused = await _create(
                s.client, owner, {**mock_fields(), "api_base": api_base}, kind=FAKEPAY
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["code"] == "invalid_provider_credentials"
            public = await _create(
                s.client,
                owner,
                {**mock_fields(), "api_base": "https://api.example.com"},
                kind=FAKEPAY,
            )
            assert public.status_code == 201, public.text


async def test_keys_manage_only_their_mode_and_account(db: Backend, tmp_path: Path) -> None:
    async with serve(db, tmp_path) as s:
        owner = await merchant(db.sessions)
        live = await merchant(db.sessions, name="Acme live", livemode=True)
        refused = await _create(s.client, owner, mock_fields(livemode=True))
        assert refused.status_code == 403
        assert refused.json()["code"] == "credentials_livemode_mismatch"
        live_made = await _create(s.client, live, mock_fields(livemode=True))
        assert live_made.status_code == 201 and live_made.json()["livemode"] is True
        test_made = await _create(s.client, owner, mock_fields())
        other = await merchant(db.sessions, name="Other")
        for pcr, caller in ((live_made.json()["id"], owner), (test_made.json()["id"], other)):
            for method in ("GET", "DELETE"):
                response = await s.client.request(method, f"{PATH}/{pcr}", headers=caller.auth)
                assert response.status_code == 404, (method, response.text)
            update = await s.client.post(
                f"{PATH}/{pcr}", headers=caller.auth, json={"description": "mine now"}
            )
            assert update.status_code == 404
        assert (await s.client.get(PATH, headers=other.auth)).json()["data"] == []
        plain = await merchant(db.sessions, name="Plain", scopes=DEFAULT_SCOPES)
        denied = await s.client.get(PATH, headers=plain.auth)
        assert denied.status_code == 403 and denied.json()["code"] == "insufficient_scope"
