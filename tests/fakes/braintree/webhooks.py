"""Webhook notifications as Braintree sends them: a form POST of ``bt_signature`` and
``bt_payload``, the payload base64 of ``<notification>`` XML, the signature
``public_key|hex(HMAC-SHA1(key=SHA1(private_key), bt_payload))``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import braintree

from tests.fakes.braintree.xml import element

Timing = Literal["after", "before"]


def sign(public_key: str, private_key: str, payload: bytes) -> str:
    key = hashlib.sha1(private_key.encode()).digest()
    return f"{public_key}|{hmac.new(key, payload, hashlib.sha1).hexdigest()}"


def notification(public_key: str, private_key: str, kind: str, subject: str) -> dict[str, str]:
    """A signed notification of ``kind`` about ``subject`` (the subject's XML element)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        f'<notification><timestamp type="datetime">{stamp}</timestamp>'
        f"<kind>{kind}</kind><subject>{subject}</subject></notification>"
    )
    payload = base64.encodebytes(xml.encode())  # with its line breaks, as Braintree sends it
    return {"bt_signature": sign(public_key, private_key, payload), "bt_payload": payload.decode()}


def sample(
    merchant_id: str, public_key: str, private_key: str, kind: str, object_id: str
) -> dict[str, str]:
    """The SDK's own ``WebhookTesting.sample_notification`` for these keys."""
    gateway = braintree.BraintreeGateway(
        braintree.Configuration(braintree.Environment.Sandbox, merchant_id, public_key, private_key)
    )
    made = gateway.webhook_testing.sample_notification(kind, object_id)
    payload = made["bt_payload"]
    return {
        "bt_signature": made["bt_signature"],
        "bt_payload": payload.decode() if isinstance(payload, bytes) else payload,
    }


@dataclass
class Delivery:
    kind: str
    subject_id: str
    form: dict[str, str]
    status: int | None = None  # the receiver's HTTP status; None when it could not be reached
    error: str | None = None


@dataclass
class Webhooks:
    """Where notifications go and how: ``timing`` "before" posts a notification caused by an
    API call before that call is answered; ``repeat`` posts each one that many times."""

    url: str | None = None
    timing: Timing = "after"
    repeat: int = 1
    timeout: float = 5.0
    deliveries: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def post(self, delivery: Delivery) -> Delivery:
        """POST one notification now (blocking) and record what the receiver said."""
        if self.url is None:
            return delivery
        body = urllib.parse.urlencode(delivery.form).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "Braintree/1.0",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                delivery.status = answer.status
        except urllib.error.HTTPError as exc:
            delivery.status = exc.code
        except OSError as exc:
            delivery.error = str(exc)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def send(self, kind: str, subject_id: str, form: dict[str, str], *, now: bool) -> None:
        """Deliver ``repeat`` times: in this thread when ``now``, else on a background one."""
        copies = [Delivery(kind, subject_id, dict(form)) for _ in range(max(self.repeat, 1))]
        if now:
            for copy in copies:
                self.post(copy)
            return

        def later() -> None:
            for copy in copies:
                self.post(copy)

        thread = threading.Thread(target=later, daemon=True)
        self._threads.append(thread)
        thread.start()

    def redeliver(self, delivery: Delivery) -> Delivery:
        """The same notification once more (Braintree retries until it gets a 2xx)."""
        return self.post(Delivery(delivery.kind, delivery.subject_id, dict(delivery.form)))

    def drain(self, timeout: float = 5.0) -> None:
        """Wait for background deliveries."""
        for thread in list(self._threads):
            thread.join(timeout)
        self._threads.clear()


def subject_xml(name: str, body: Any) -> str:
    return element(name, body)
