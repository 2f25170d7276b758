"""Test kit for provider credentials: an app with a provider kind of the test's own.

``fakepay`` is a provider kind that exists only in these tests: its spec requires a
``secret_key`` (secret), tells the mode from it (``sk_live_``), and builds a mock adapter that
records which credentials each call was made with. It is enabled with no install credentials,
so only accounts that bring their own can pay through it: the case of a real provider on a
multi-merchant install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from kassa.api.app import create_app
from kassa.providers.base import ChargeRequest, ChargeResult
from kassa.providers.credentials import SPECS, Credentials, CredentialsSpec, register_spec
from kassa.providers.mock import MockProvider
from tests.conftest import Backend
from tests.openapi_conformance import api_transport

FAKEPAY = "fakepay"


class RecordingMock(MockProvider):
    """A mock adapter that remembers the credentials it was built from, per call."""

    calls: list[tuple[str, str, str]] = []  # (credentials id, secret key, idempotency key)

    def __init__(self, name: str, credentials: Credentials) -> None:
        super().__init__(name)
        self.credentials = credentials

    async def authorize(self, request: ChargeRequest) -> ChargeResult:
        secret = self.credentials.fields.get("secret_key", "")
        RecordingMock.calls.append((self.credentials.id, secret, request.idempotency_key))
        return await super().authorize(request)


def _livemode(fields: Mapping[str, str]) -> bool:
    return fields.get("secret_key", "").startswith("sk_live_")


FAKEPAY_SPEC = CredentialsSpec(
    kind=FAKEPAY,
    required=("secret_key",),
    optional=("api_base",),
    secret=("secret_key",),
    livemode=_livemode,
    build=RecordingMock,
)


@contextmanager
def fakepay_kind() -> Iterator[None]:
    """The fakepay kind is known while this lasts (and forgotten after, for other tests)."""
    register_spec(FAKEPAY_SPEC)
    RecordingMock.calls = []
    try:
        yield
    finally:
        SPECS.pop(FAKEPAY, None)


@dataclass
class Served:
    app: FastAPI
    client: httpx.AsyncClient


@asynccontextmanager
async def serve(db: Backend, tmp_path: Path, **overrides: Any) -> AsyncIterator[Served]:
    app = create_app(db.settings(tmp_path, **overrides))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=api_transport(app), base_url="http://kassa.test") as c,
    ):
        yield Served(app, c)


def mock_fields(livemode: bool = False, tail: str = "4242") -> dict[str, str]:
    mode = "live" if livemode else "test"
    return {"secret_key": f"sk_{mode}_SeCrEtVaLuE{tail}0000{tail}"}
