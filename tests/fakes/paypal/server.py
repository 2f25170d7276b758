"""FakePayPal: a PayPal stand-in on loopback that speaks PayPal's REST protocol.

What it checks and does as PayPal does:

- ``POST /v1/oauth2/token``: HTTP basic auth with the client id and secret, the
  client-credentials grant; tokens expire after ``token_ttl`` seconds (or when told to), and an
  API call with an expired or unknown token is answered 401 ``invalid_token``.
- Orders v2 and Payments v2 (api.py), with state across calls.
- ``PayPal-Request-Id`` on writes: the same id (per client and path) answers the latest state
  of what the first request made, never doing it twice; a request whose id is still being
  processed is answered 409; refusals are not remembered (a retry is tried again).
- Failure injection (``fail``): 5xx, 429, a hang past the client's timeout (before or after
  acting), a declined instrument (``INSTRUMENT_DECLINED``), a capture made DECLINED.
- Webhooks signed as PayPal signs them (webhooks.py), to ``webhook_url``: after the answer,
  or before it (``early_webhooks``), each sent ``webhook_copies`` times; PayPal's resend and
  verify-webhook-signature APIs; the signing certificate at ``PAYPAL-CERT-URL``.
- Every documented request and answer is checked against PayPal's OpenAPI documents
  (openapi.py); ``violations`` lists what did not conform.

The control API (``/_control/...``, not PayPal's) plays the buyer and injects failures, so a
test in another process can drive it too; the same is callable in-process.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.paypal import openapi
from tests.fakes.paypal.api import Answer, PayPalApi, PayPalRefusal, json_response
from tests.fakes.paypal.state import Buyer, Json, Ledger, payer_id
from tests.fakes.paypal.webhooks import (
    CERT_PATH,
    Outbox,
    Transmission,
    encode,
    event,
    signed_message,
    signing_key,
    transmission,
)

DECLINING_BUYER = "declined@buyer.example"
# PayPal's 429 (its documents do not describe one; this is what it sends).
RATE_LIMITED = {
    "name": "RATE_LIMIT_REACHED",
    "message": "Too many requests. Blocked due to rate limiting.",
    "debug_id": "9e3c6ac7c5a1f",
}


@dataclass
class Fault:
    """Make the next ``times`` calls whose path contains ``path`` (and of ``method``) fail:
    ``status`` (500, 503, 429), ``hang`` (``seconds`` before acting), ``hang_after`` (act,
    then hang), ``decline`` (422 with ``issue``), ``capture_declined`` (the capture is made
    with status DECLINED)."""

    kind: str = "status"
    path: str = ""
    method: str = "POST"
    status: int = 500
    seconds: float = 5.0
    issue: str = "INSTRUMENT_DECLINED"
    times: int = 1


@dataclass
class Call:
    method: str
    path: str
    request_id: str | None
    authorization: str | None


@dataclass
class _Token:
    client_id: str
    expires_at: float


@dataclass
class FakePayPal(PayPalApi):
    client_id: str = "kassa-paypal-client"
    client_secret: str = "kassa-paypal-secret"
    token_ttl: int = 32400
    webhook_url: str | None = None
    webhook_id: str = "8PT597110X687430LKGECATA"
    early_webhooks: bool = False
    webhook_copies: int = 1
    validate: bool = True
    minimal_answers: bool = False  # answer writes minimally whatever Prefer asks
    violations: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    tokens_issued: int = 0
    outbox: Outbox = field(default_factory=Outbox)

    def __post_init__(self) -> None:
        self.ledger = Ledger(base="http://unstarted", web="http://unstarted")
        self.buyers = {DECLINING_BUYER: Buyer(DECLINING_BUYER, payer_id(), declines=True)}
        self.declined_captures = 0
        self.faults: list[Fault] = []
        self._tokens: dict[str, _Token] = {}
        self._done: dict[tuple[str, str, str], Answer] = {}
        self._in_flight: set[tuple[str, str, str]] = set()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._deliveries: set[asyncio.Task[None]] = set()
        self.url = ""

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> FakePayPal:
        app = web.Application(middlewares=[self._middleware])
        self._routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self.ledger.base = self.url
        self.ledger.web = f"{self.url}/web"
        return self

    async def stop(self) -> None:
        self._closing.set()
        await self.webhooks_idle()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakePayPal:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def cert_url(self) -> str:
        return f"{self.url}{CERT_PATH}"

    # -- in-process control ---------------------------------------------------------------------
    def fail(self, fault: Fault) -> None:
        self.faults.append(fault)

    def expire_tokens(self) -> None:
        self._tokens.clear()

    async def webhooks_idle(self) -> None:
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    # -- webhooks -------------------------------------------------------------------------------
    async def emit(self, event_type: str, resource: Json) -> None:
        made = event(event_type, resource, base=self.url)
        if self.validate:
            self.violations.extend(openapi.check_event(made))
        body = encode(made)
        self.outbox.events[made["id"]] = body
        if self.webhook_url is None:
            return
        for _ in range(self.webhook_copies):
            if self.early_webhooks:
                await self._deliver(made["id"], body)
            else:
                task = asyncio.create_task(self._deliver(made["id"], body))
                self._deliveries.add(task)
                task.add_done_callback(self._deliveries.discard)

    def signed(self, event_type: str, resource: Json) -> Transmission:
        """A webhook as PayPal would send it now (bytes and headers), signed and kept for the
        verify API, but not delivered: for a receiver's own tests (tamper with it, replay it)."""
        made = event(event_type, resource, base=self.url)
        if self.validate:
            self.violations.extend(openapi.check_event(made))
        body = encode(made)
        self.outbox.events[made["id"]] = body
        return transmission(body, made["id"], webhook_id=self.webhook_id, cert_url=self.cert_url)

    async def _deliver(self, event_id: str, body: bytes) -> None:
        assert self.webhook_url is not None
        sent = transmission(body, event_id, webhook_id=self.webhook_id, cert_url=self.cert_url)
        self.outbox.sent.append(sent)
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.post(self.webhook_url, data=body, headers=sent.headers) as answer,
            ):
                sent.status = answer.status
        except aiohttp.ClientError:
            sent.status = None

    def verify_signature(self, request: Json) -> bool:
        """PayPal's verify-webhook-signature: over the bytes it sent for this event."""
        given = request.get("webhook_event") or {}
        sent = self.outbox.events.get(str(given.get("id")))
        body = sent if sent is not None and json.loads(sent) == given else encode(given)
        if request.get("cert_url") != self.cert_url or request.get("auth_algo") != "SHA256withRSA":
            return False
        message = signed_message(
            str(request.get("transmission_id")),
            str(request.get("transmission_time")),
            str(request.get("webhook_id")),
            body,
        )
        return signing_key().verifies(message, str(request.get("transmission_sig")))

    # -- the HTTP layer -------------------------------------------------------------------------
    def _routes(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/v1/oauth2/token", self._token)
        r.add_post("/v2/checkout/orders", self._wrap(lambda q, b: self.create_order(b)))
        r.add_get("/v2/checkout/orders/{id}", self._wrap(lambda q, b: self.get_order(q["id"])))
        r.add_post(
            "/v2/checkout/orders/{id}/capture", self._wrap(lambda q, b: self.capture_order(q["id"]))
        )
        r.add_post(
            "/v2/checkout/orders/{id}/authorize",
            self._wrap(lambda q, b: self.authorize_order(q["id"])),
        )
        for kind, name in (
            ("authorizations", "authorization_id"),
            ("captures", "capture_id"),
            ("refunds", "refund_id"),
        ):
            r.add_get(
                f"/v2/payments/{kind}/{{{name}}}",
                self._wrap(lambda q, b, k=kind, n=name: self.get_payment(k, q[n])),
            )
        r.add_post(
            "/v2/payments/authorizations/{id}/capture",
            self._wrap(lambda q, b: self.capture_authorization(q["id"], b)),
        )
        r.add_post(
            "/v2/payments/authorizations/{id}/void",
            self._wrap(lambda q, b: self.void_authorization(q["id"])),
        )
        r.add_post(
            "/v2/payments/captures/{id}/refund",
            self._wrap(lambda q, b: self.refund_capture(q["id"], b)),
        )
        r.add_post("/v1/notifications/verify-webhook-signature", self._verify)
        r.add_post("/v1/notifications/webhooks-events/{id}/resend", self._resend)
        r.add_get(CERT_PATH, self._certificate)
        r.add_get("/web/checkoutnow", self._checkout_page)
        r.add_post("/web/checkoutnow", self._checkout_submit)
        r.add_post("/_control/orders/{id}/approve", self._control_approve)
        r.add_post("/_control/faults", self._control_fault)
        r.add_post("/_control/tokens/expire", self._control_expire)
        r.add_post("/_control/webhooks", self._control_webhooks)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        if request.path.startswith(("/_control/", "/web/")):  # not PayPal's API
            response: web.StreamResponse = await handler(request)
            return response
        self.calls.append(
            Call(
                request.method,
                request.path,
                request.headers.get("PayPal-Request-Id"),
                request.headers.get("Authorization"),
            )
        )
        response = await handler(request)
        if self.validate and isinstance(response, web.Response):
            raw = response.body if isinstance(response.body, bytes) else b""
            self.violations.extend(
                openapi.check_exchange(
                    request.method,
                    request.path,
                    dict(request.query),
                    dict(request.headers),
                    body,
                    response.status,
                    raw,
                )
            )
        return response

    def _bearer_client(self, request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        found = self._tokens.get(token) if scheme == "Bearer" else None
        loop = asyncio.get_running_loop()
        if found is None or loop.time() >= found.expires_at:
            return None
        return found.client_id

    def _fault(self, request: web.Request) -> Fault | None:
        for fault in self.faults:
            if fault.path in request.path and fault.method == request.method:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _hang(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _wrap(self, act: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            client = self._bearer_client(request)
            if client is None:
                return web.json_response(
                    {
                        "error": "invalid_token",
                        "error_description": "Token signature verification failed",
                    },
                    status=401,
                )
            fault = self._fault(request)
            if fault is not None and fault.kind == "status":
                refusal = PayPalRefusal(fault.status)
                headers = {"Retry-After": "1"} if fault.status == 429 else None
                body = refusal.body() if fault.status != 429 else RATE_LIMITED
                return web.json_response(body, status=fault.status, headers=headers)
            if fault is not None and fault.kind == "decline":
                return web.json_response(PayPalRefusal(422, fault.issue).body(), status=422)
            if fault is not None and fault.kind == "capture_declined":
                self.declined_captures += 1
            rid = request.headers.get("PayPal-Request-Id")
            key = (client, request.path, rid or "")
            prefer = request.headers.get("Prefer", "")
            prefer_full = "return=representation" in prefer and not self.minimal_answers
            if request.method == "POST" and rid:
                if key in self._in_flight:
                    refusal = PayPalRefusal(409, "PREVIOUS_REQUEST_IN_PROGRESS")
                    return web.json_response(refusal.body(), status=409)
                done = self._done.get(key)
                if done is not None:
                    status = 200 if request.path.startswith("/v2/checkout/") else done.status
                    return self._render(status, done, prefer_full)
            raw = await request.read()
            try:
                payload: Json = json.loads(raw) if raw else {}
            except json.JSONDecodeError:
                return web.json_response(
                    PayPalRefusal(400, "MALFORMED_REQUEST_JSON").body(), status=400
                )
            self._in_flight.add(key)
            try:
                if fault is not None and fault.kind == "hang":
                    await self._hang(fault.seconds)  # received, not yet acted on
                answer = act(request.match_info, payload)
                if asyncio.iscoroutine(answer):
                    answer = await answer
            except PayPalRefusal as refusal:
                return web.json_response(refusal.body(), status=refusal.status)
            finally:
                self._in_flight.discard(key)
            if request.method == "POST" and rid:
                self._done[key] = answer
            if fault is not None and fault.kind == "hang_after":
                await self._hang(fault.seconds)
            return self._render(answer.status, answer, prefer_full, fresh=True)

        return handle

    def _render(
        self, status: int, answer: Answer, full: bool, *, fresh: bool = False
    ) -> web.Response:
        if not full and answer.minimal is not None:
            minimal = answer.minimal()
            return json_response(204 if not minimal else status, minimal or None)
        return json_response(status, answer.body if fresh else answer.again())

    async def _token(self, request: web.Request) -> web.Response:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            client_id = secret = ""
        form = await request.post()
        fault = self._fault(request)
        if fault is not None and fault.kind == "status":
            return web.json_response({"error": "server_error"}, status=fault.status)
        if scheme != "Basic" or (client_id, secret) != (self.client_id, self.client_secret):
            return web.json_response(
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
                status=401,
            )
        if form.get("grant_type") != "client_credentials":
            return web.json_response(
                {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"},
                status=400,
            )
        token = "A21AA" + secrets.token_urlsafe(48)
        loop = asyncio.get_running_loop()
        self._tokens[token] = _Token(client_id, loop.time() + self.token_ttl)
        self.tokens_issued += 1
        return web.json_response(
            {
                "scope": "https://uri.paypal.com/services/payments/payment",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.token_ttl,
                "nonce": secrets.token_hex(16),
            }
        )

    async def _verify(self, request: web.Request) -> web.Response:
        if self._bearer_client(request) is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        ok = self.verify_signature(await request.json())
        return web.json_response({"verification_status": "SUCCESS" if ok else "FAILURE"})

    async def _resend(self, request: web.Request) -> web.Response:
        if self._bearer_client(request) is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        event_id = request.match_info["id"]
        body = self.outbox.events.get(event_id)
        if body is None:
            return web.json_response(PayPalRefusal(404, "INVALID_RESOURCE_ID").body(), status=404)
        if self.webhook_url is not None:
            await self._deliver(event_id, body)
        return web.json_response(json.loads(body), status=202)

    async def _certificate(self, request: web.Request) -> web.Response:
        return web.Response(
            body=signing_key().certificate_pem, content_type="application/x-pem-file"
        )

    # -- the buyer's pages (PayPal's checkout, as a browser sees it) ----------------------------
    async def _checkout_page(self, request: web.Request) -> web.Response:
        """The approve link's page: a login-and-pay form for the order in ``token``."""
        token = request.query.get("token", "")
        if token not in self.ledger.orders:
            return web.Response(status=404, text="This checkout session has expired.")
        form = (
            f'<form method="post" action="/web/checkoutnow">'
            f'<input type="hidden" name="token" value="{token}">'
            '<input name="email" type="email">'
            '<button name="action" value="approve">Pay</button>'
            '<button name="action" value="cancel">Cancel and return</button></form>'
        )
        return web.Response(text=f"<html><body>{form}</body></html>", content_type="text/html")

    async def _checkout_submit(self, request: web.Request) -> web.Response:
        """The buyer pays (approves) or cancels; PayPal then redirects the browser to the
        order's ``return_url`` (``?token=<order id>&PayerID=...``) or ``cancel_url``
        (``?token=<order id>``)."""
        form = await request.post()
        token = str(form.get("token", ""))
        order = self.ledger.orders.get(token)
        if order is None:
            return web.Response(status=404, text="This checkout session has expired.")
        context = (order.wallet or {}).get("experience_context") or {}
        if form.get("action") == "cancel":
            target, query = context.get("cancel_url"), {"token": token}
        else:
            try:
                await self.approve(token, str(form.get("email") or "") or None)
            except PayPalRefusal:
                return web.Response(status=409, text="This order can no longer be paid.")
            assert order.buyer is not None
            target = context.get("return_url")
            query = {"token": token, "PayerID": order.buyer.payer_id}
        if not target:
            return web.Response(text="Done: you may close this window.")
        joiner = "&" if "?" in target else "?"
        location = target + joiner + urllib.parse.urlencode(query)
        raise web.HTTPFound(location)

    async def _control_approve(self, request: web.Request) -> web.Response:
        given = await request.json() if request.can_read_body else {}
        try:
            order = await self.approve(request.match_info["id"], given.get("email"))
        except PayPalRefusal as refusal:
            return web.json_response(refusal.body(), status=refusal.status)
        return web.json_response(order)

    async def _control_fault(self, request: web.Request) -> web.Response:
        self.fail(Fault(**await request.json()))
        return web.Response(status=204)

    async def _control_webhooks(self, request: web.Request) -> web.Response:
        """Where and how webhooks go: ``url``, ``webhook_id``, ``early``, ``copies``."""
        given = await request.json()
        self.webhook_url = given.get("url", self.webhook_url)
        self.webhook_id = given.get("webhook_id", self.webhook_id)
        self.early_webhooks = bool(given.get("early", self.early_webhooks))
        self.webhook_copies = int(given.get("copies", self.webhook_copies))
        return web.Response(status=204)

    async def _control_expire(self, request: web.Request) -> web.Response:
        self.expire_tokens()
        return web.Response(status=204)


def sent_event(sent: Transmission) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sent.body)
    return loaded
