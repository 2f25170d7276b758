"""The Stripe stand-in's HTTP side: Stripe's authentication, idempotency, error bodies and
headers around api.py, faults on demand, and a control API for tests.

Idempotency is Stripe's (docs.stripe.com/api/idempotent_requests): a POST's ``Idempotency-Key``
keeps the status and body of the first request once its execution began; the same key with
the same parameters answers that again with ``Idempotent-Replayed: true``; with other
parameters 400 ``idempotency_error``; while the first is still running 409
``idempotency_key_in_use``. Requests refused while their parameters were validated keep
nothing, so they may be retried with the same key.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.stripe import objects
from tests.fakes.stripe.api import StripeState
from tests.fakes.stripe.forms import FormError, parse_form
from tests.fakes.stripe.store import Fail, Request
from tests.fakes.stripe.webhooks import Endpoint, WebhookSender

TEST_KEY = "sk_test_kassa_stand_in_key"
ACCOUNT_API_VERSION = "2024-06-20"  # the account's default, used when a request names none
KEY = web.RequestKey("stripe_key", str)
HEADERS = web.RequestKey("stripe_headers", dict)
REQUEST_ID = web.RequestKey("stripe_request_id", str)
FAULT = web.RequestKey("stripe_fault", str)
WEBHOOK_SECRET = "whsec_kassa_stand_in_secret"


@dataclass
class Stored:
    fingerprint: str
    status: int
    body: dict[str, Any]


class InFlight:
    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint


def _error_response(status: int, error: dict[str, Any], headers: dict[str, str]) -> web.Response:
    return web.json_response({"error": error}, status=status, headers=headers)


class FakeStripe:
    """Start with ``await fake.start()`` (or ``async with``); point the SDK at ``base_url``."""

    def __init__(self, api_keys: tuple[str, ...] = (TEST_KEY,), *, hang_seconds: float = 5.0):
        self.api_keys = set(api_keys)
        self.hang_seconds = hang_seconds
        self.state = StripeState()
        self.webhooks = WebhookSender()
        self.faults: deque[str] = deque()  # "500", "429", "hang", "stall": one per API call
        self.replays: list[str] = []  # idempotency keys answered from Stripe's store
        self.requests: list[dict[str, Any]] = []  # what arrived: method, path, headers, params
        self._idempotency: dict[tuple[str, str], Stored | InFlight] = {}
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> FakeStripe:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_route("*", "/v1/{tail:.*}", self._dispatch)
        app.router.add_post("/_control/{tail:.*}", self._control)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        self._closing.set()
        await self.webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeStripe:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- control API (also over HTTP under /_control) ---------------------------------------
    def fail_next(self, count: int = 1, mode: str = "500") -> None:
        """The next ``count`` API calls answer 500 / 429 (before any execution: nothing is
        kept for their keys; the 500 says ``Stripe-Should-Retry: true``), ``500_executed``
        (the call was carried out, then failed: the 500 is what its key keeps, with
        ``Stripe-Should-Retry: false``), ``hang`` (executed, then the answer is held for
        ``hang_seconds``: past any sane client timeout) or ``stall`` (held before executing,
        its idempotency key in flight)."""
        assert mode in ("500", "500_executed", "429", "hang", "stall")
        self.faults.extend([mode] * count)

    def add_webhook_endpoint(self, url: str, secret: str = WEBHOOK_SECRET) -> None:
        self.webhooks.endpoints.append(Endpoint(url, secret))

    async def complete_three_d_secure(self, intent_id: str, *, success: bool = True) -> None:
        before = len(self.state.event_log)
        self.state.finish_three_d_secure(intent_id, success=success)
        await self.webhooks.send(self.state.event_log[before:])

    async def open_dispute(self, intent_id: str, reason: str = "fraudulent") -> dict[str, Any]:
        """The cardholder disputes the payment: ``charge.dispute.created`` is sent."""
        before = len(self.state.event_log)
        opened = self.state.open_dispute(intent_id, reason)
        await self.webhooks.send(self.state.event_log[before:])
        return opened

    async def close_dispute(self, dispute_id: str, *, won: bool) -> dict[str, Any]:
        before = len(self.state.event_log)
        closed = self.state.close_dispute(dispute_id, won=won)
        await self.webhooks.send(self.state.event_log[before:])
        return closed

    async def _control(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"]
        params = parse_form(await request.text())
        try:
            if match := _match(r"payment_intents/([^/]+)/three_d_secure", tail):
                outcome = params.get("outcome", "complete")
                await self.complete_three_d_secure(match, success=outcome == "complete")
            elif match := _match(r"payment_intents/([^/]+)/dispute", tail):
                opened = await self.open_dispute(match, params.get("reason", "fraudulent"))
                return web.json_response(opened)
            elif match := _match(r"disputes/([^/]+)/close", tail):
                closed = await self.close_dispute(match, won=params.get("outcome") == "won")
                return web.json_response(closed)
            elif tail == "faults":
                self.fail_next(int(params.get("count", 1)), params.get("mode", "500"))
            elif tail == "webhook_endpoints":
                self.add_webhook_endpoint(params["url"], params.get("secret", WEBHOOK_SECRET))
            elif tail == "webhooks":
                self.webhooks.early += int(params.get("early", 0))
                self.webhooks.twice += int(params.get("twice", 0))
            else:
                raise web.HTTPNotFound()
        except Fail as failure:
            return _error_response(failure.status, failure.error, {})
        return web.json_response({"ok": True})

    # -- the API ----------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)  # type: ignore[no-any-return]
        request_id = objects.new_id("req", 14)
        headers = {"Request-Id": request_id}
        version = request.headers.get("Stripe-Version")
        if version and not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", version):
            return _error_response(
                400,
                {
                    "type": "invalid_request_error",
                    "message": f"Invalid Stripe API version: {version}",
                    "param": "Stripe-Version",
                },
                headers,
            )
        headers["Stripe-Version"] = version or ACCOUNT_API_VERSION
        key = _api_key(request.headers.get("Authorization", ""))
        if not key:
            return _error_response(
                401,
                {
                    "type": "invalid_request_error",
                    "message": "You did not provide an API key. You need to provide your API "
                    "key in the Authorization header, using Bearer auth.",
                },
                headers,
            )
        if key not in self.api_keys:
            masked = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]
            return _error_response(
                401,
                {"type": "invalid_request_error", "message": f"Invalid API Key provided: {masked}"},
                headers,
            )
        request[KEY] = key
        request[HEADERS] = headers
        request[REQUEST_ID] = request_id
        fault = self.faults.popleft() if self.faults else None
        request[FAULT] = fault or ""
        if fault == "429":
            return _error_response(
                429,
                {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                },
                headers,
            )
        if fault == "500":
            return _error_response(
                500,
                {"type": "api_error", "message": "An unknown error occurred"},
                {**headers, "Stripe-Should-Retry": "true"},
            )
        response = await handler(request)
        if fault == "hang":  # it was done; the answer is what never arrives in time
            await self._hold()
        return response  # type: ignore[no-any-return]

    async def _hold(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), self.hang_seconds)

    async def _dispatch(self, request: web.Request) -> web.Response:
        headers: dict[str, str] = request[HEADERS]
        try:
            if request.method == "POST":
                params = parse_form(await request.text())
            else:
                params = parse_form(request.query_string)
        except FormError as exc:
            return _error_response(
                400, {"type": "invalid_request_error", "message": f"Invalid param: {exc}"}, headers
            )
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "params": params,
            }
        )
        idem = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if idem is None:
            return await self._run(request, params, None, headers)
        headers["Idempotency-Key"] = idem
        slot = (request[KEY], idem)
        fingerprint = json.dumps([request.method, request.path, params], sort_keys=True)
        known = self._idempotency.get(slot)
        if isinstance(known, InFlight):
            return _error_response(
                409,
                {
                    "type": "invalid_request_error",
                    "code": "idempotency_key_in_use",
                    "message": "There is currently another in-progress request using this "
                    "Idempotent Key (that probably means you submitted twice, and the other "
                    "request is still going through): "
                    f"{idem}. Please try again later.",
                },
                headers,
            )
        if known is not None:
            if known.fingerprint != fingerprint:
                return _error_response(
                    400,
                    {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{idem}' if you meant to execute a different request.",
                    },
                    headers,
                )
            self.replays.append(idem)
            return web.json_response(
                known.body, status=known.status, headers={**headers, "Idempotent-Replayed": "true"}
            )
        self._idempotency[slot] = InFlight(fingerprint)
        try:
            response = await self._run(request, params, idem, headers, slot, fingerprint)
        finally:
            if isinstance(self._idempotency.get(slot), InFlight):
                del self._idempotency[slot]
        return response

    async def _run(
        self,
        request: web.Request,
        params: dict[str, Any],
        idem: str | None,
        headers: dict[str, str],
        slot: tuple[str, str] | None = None,
        fingerprint: str = "",
    ) -> web.Response:
        ctx = Request(
            base_url=self.base_url,
            request_id=request[REQUEST_ID],
            idempotency_key=idem,
            api_version=request.headers.get("Stripe-Version", ""),
        )
        if request[FAULT] == "stall":
            await self._hold()
        try:
            status, body = 200, self._route(request.method, request.match_info["tail"], params, ctx)
        except Fail as failure:
            if slot is not None and failure.stored:
                self._idempotency[slot] = Stored(
                    fingerprint, failure.status, {"error": failure.error}
                )
            await self.webhooks.send(ctx.events)
            return _error_response(failure.status, failure.error, headers)
        if request[FAULT] == "500_executed":  # done, but the answer is an error
            error = {"type": "api_error", "message": "An unknown error occurred"}
            status, body = 500, {"error": error}
            headers = {**headers, "Stripe-Should-Retry": "false"}
        if slot is not None:
            self._idempotency[slot] = Stored(fingerprint, status, body)
        await self.webhooks.send(ctx.events)
        return web.json_response(body, status=status, headers=headers)

    def _route(
        self, method: str, tail: str, params: dict[str, Any], ctx: Request
    ) -> dict[str, Any]:
        state = self.state
        expand = params.get("expand") if isinstance(params.get("expand"), list) else []

        def out(obj: dict[str, Any]) -> dict[str, Any]:
            return state.render(obj, expand)

        if method == "POST":
            if tail == "payment_intents":
                return out(state.create_intent(params, ctx))
            if found := _match(r"payment_intents/([^/]+)/confirm", tail):
                return out(state.confirm_intent(found, params, ctx))
            if found := _match(r"payment_intents/([^/]+)/capture", tail):
                return out(state.capture(found, params, ctx))
            if found := _match(r"payment_intents/([^/]+)/cancel", tail):
                return out(state.cancel(found, params, ctx))
            if tail == "refunds":
                return out(state.create_refund(params, ctx))
            if found := _match(r"payment_methods/([^/]+)/attach", tail):
                return out(state.attach(found, params, ctx))
            if found := _match(r"payment_methods/([^/]+)/detach", tail):
                return out(state.detach(found, ctx))
            if tail == "customers":
                return out(state.create_customer(params, ctx))
        if method == "GET":
            if tail == "payment_intents/search":
                rows = [out(row) for row in state.search(params)]
                return objects.search_result("/v1/payment_intents/search", rows)
            if tail == "payment_intents":
                rows, more = state.list_intents(params)
                return objects.list_of("/v1/payment_intents", [out(r) for r in rows], has_more=more)
            if tail == "refunds":
                intent = params.get("payment_intent")
                rows = [
                    r
                    for r in reversed(state.refunds.values())
                    if r["payment_intent"] == intent or not intent
                ]
                return objects.list_of("/v1/refunds", [out(r) for r in rows[:100]])
            if found := _match(r"payment_intents/([^/]+)", tail):
                return out(state.intent(found))
            if found := _match(r"charges/([^/]+)", tail):
                return out(state.retrieve(state.charges, "charge", found))
            if found := _match(r"refunds/([^/]+)", tail):
                return out(state.retrieve(state.refunds, "refund", found))
            if found := _match(r"payment_methods/([^/]+)", tail):
                return out(state.retrieve_method(found))
            if found := _match(r"customers/([^/]+)", tail):
                return out(state.retrieve_customer(found))
            if found := _match(r"disputes/([^/]+)", tail):
                return out(state.retrieve(state.disputes, "dispute", found))
            if found := _match(r"events/([^/]+)", tail):
                return out(state.retrieve(state.events, "event", found))
        raise Fail(
            404,
            {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method}: /v1/{tail}).",
            },
        )


def _api_key(header: str) -> str:
    """The key of ``Bearer sk_...`` or of Basic auth with the key as user (``curl -u sk_:``)."""
    scheme, _, value = header.partition(" ")
    if scheme == "Bearer":
        return value.strip()
    if scheme == "Basic":
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


def _match(pattern: str, tail: str) -> str | None:
    found = re.fullmatch(pattern, tail)
    return found.group(1) if found else None


def new_key() -> str:
    return "sk_test_" + secrets.token_hex(12)
