"""The Braintree stand-in, the adapter and the bare SDK pointed at it, and a webhook
receiver on loopback."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from kassa.providers.braintree import BraintreeProvider
from kassa.providers.braintree.gateway import build_gateway
from tests.fakes.braintree import FakeBraintree


@pytest.fixture
def fake() -> Iterator[FakeBraintree]:
    with FakeBraintree().running() as running:
        yield running


def provider_for(fake: FakeBraintree, *, timeout: float = 2.0, **keys: str) -> BraintreeProvider:
    return BraintreeProvider(
        "braintree_test",
        merchant_id=keys.get("merchant_id", fake.merchant_id),
        public_key=keys.get("public_key", fake.public_key),
        private_key=keys.get("private_key", fake.private_key),
        api_base=fake.url,
        timeout=timeout,
    )


@pytest.fixture
def provider(fake: FakeBraintree) -> BraintreeProvider:
    return provider_for(fake, timeout=0.5)


def sdk_for(fake: FakeBraintree, *, timeout: float = 2.0, **keys: str) -> Any:
    """The official SDK's gateway object, unchanged, talking to the stand-in."""
    return build_gateway(
        merchant_id=keys.get("merchant_id", fake.merchant_id),
        public_key=keys.get("public_key", fake.public_key),
        private_key=keys.get("private_key", fake.private_key),
        api_base=fake.url,
        timeout=timeout,
    )


@pytest.fixture
def sdk(fake: FakeBraintree) -> Any:
    return sdk_for(fake)


@dataclass
class Received:
    form: dict[str, str]
    at: float


@dataclass
class Receiver:
    """Collects webhook POSTs (form-encoded, as Braintree sends them)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int, timeout: float = 3.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received


@pytest.fixture
def receiver(fake: FakeBraintree) -> Iterator[Receiver]:
    found = Receiver()
    keys = sdk_for(fake)  # the receiver's own copy of the keys

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # Braintree's destination check, answered with the SDK
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            answer = keys.webhook_notification.verify(query["bt_challenge"][0]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
            found.received.append(Received(form, time.monotonic()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/braintree"
    fake.webhooks.url = found.url
    yield found
    server.shutdown()
    server.server_close()
