"""``POST /webhooks/{provider}`` and ``/webhooks/{provider}/{credentials id}``: a plain ASGI
endpoint, mounted beside the FastAPI app (docs/decisions/0009).

Per delivery: read the raw body (at most ``KASSA_INBOUND_WEBHOOK_MAX_BODY_BYTES``: 413 past
it), find the credentials (the install's default ones from its settings, or an account's
through ``CredentialsLookup``: 404 when there are none), verify the signature on the exact
bytes received (400 ``invalid_signature``, counted, logged without the body, alerted on past a
rate), then hand the event to the group committer and answer 200 only once its row and its
processing job are committed. A duplicate (the same provider event for the same credentials)
stores nothing and is answered 200 too, so the provider stops retrying. A database that cannot
store answers 503, and the provider retries later.

It is not a FastAPI route: providers send form bodies (Braintree), no API key, and thousands
of deliveries a second, none of which the API's middleware (JSON only, per-IP limits,
idempotency keys) is for.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NoReturn, Protocol
from urllib.parse import parse_qs

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kassa.core import context
from kassa.core.digits import ascii_digits
from kassa.core.errors import (
    InvalidRequest,
    KassaError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from kassa.core.ids import has_prefix, new_id
from kassa.core.metrics import http_problems
from kassa.core.settings import Settings
from kassa.providers.credentials import DEFAULT, Credentials
from kassa.providers.defaults import default_credentials
from kassa.webhooks.inbound import metrics
from kassa.webhooks.inbound.alerts import InvalidSignatureAlarm
from kassa.webhooks.inbound.errors import (
    INVALID_SIGNATURE,
    INVALID_WEBHOOK_PAYLOAD,
    WEBHOOK_RECEIVER_UNKNOWN,
)
from kassa.webhooks.inbound.store import GroupCommitter, NewEvent, apply_job_of
from kassa.webhooks.inbound.verifiers import PROVIDERS, Verifiers, rise_credentials

log = logging.getLogger("kassa.webhooks.inbound")

PREFIX = "/webhooks/"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_TITLES = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}
_TITLES |= {413: "Payload Too Large", 503: "Service Unavailable"}
_STATUS: tuple[tuple[type[KassaError], int], ...] = (
    (InvalidRequest, 400),
    (NotFound, 404),
    (MethodNotAllowed, 405),
    (PayloadTooLarge, 413),
    (ServiceUnavailable, 503),
)
_JSON = [(b"content-type", b"application/json")]
_NO_REQUEST_ID = context.RequestContext()
_PROBLEM = [(b"content-type", b"application/problem+json")]


class CredentialsLookup(Protocol):
    """An account's credentials of a provider kind by id (``pcr_...``), decrypted; None when
    there are none. The composition root wires it to the accounts' credentials resource."""

    async def __call__(self, kind: str, credentials_id: str) -> Credentials | None: ...


async def no_account_credentials(kind: str, credentials_id: str) -> Credentials | None:
    return None


class _Refused(Exception):
    def __init__(self, error: KassaError, outcome: str, extra: list[tuple[bytes, bytes]]):
        super().__init__(error.message)
        self.error, self.outcome, self.extra = error, outcome, extra


def _status(error: KassaError) -> int:
    return next((s for kind, s in _STATUS if isinstance(error, kind)), 500)


class _CredentialsCache:
    """An account's credentials for a few seconds: a burst of deliveries decrypts them once.
    (A rotated secret is in use within ``ttl`` seconds.)"""

    def __init__(self, lookup: CredentialsLookup, ttl: float = 10.0, size: int = 1024) -> None:
        self.lookup, self.ttl, self.size = lookup, ttl, size
        self._found: OrderedDict[tuple[str, str], tuple[Credentials | None, float]] = OrderedDict()

    async def get(self, kind: str, credentials_id: str) -> Credentials | None:
        key = (kind, credentials_id)
        now = time.monotonic()
        hit = self._found.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        found = await self.lookup(kind, credentials_id)
        if found is not None and (found.kind != kind or found.id != credentials_id):
            found = None  # another kind's credentials never verify this provider's webhooks
        self._found[key] = (found, now + self.ttl)
        self._found.move_to_end(key)
        while len(self._found) > self.size:
            self._found.popitem(last=False)
        return found


class InboundReceiver:
    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        *,
        lookup: CredentialsLookup = no_account_credentials,
        verifiers: Verifiers | None = None,
    ) -> None:
        self.max_body = settings.inbound_webhook_max_body_bytes
        self.defaults = {**default_credentials(settings), **rise_credentials(settings)}
        self.accounts = _CredentialsCache(lookup)
        self.verifiers = verifiers or Verifiers(settings)
        self.committer = GroupCommitter(engine, sessions)
        # Rise's events are payouts' to apply: their own committer enqueues payouts' job.
        self.rise_committer = GroupCommitter(engine, sessions, job=apply_job_of("rise"))
        self.alarm = InvalidSignatureAlarm(
            sessions,
            threshold=settings.inbound_invalid_signature_alert_threshold,
            window_seconds=settings.inbound_invalid_signature_alert_window_seconds,
        )

    def use_credentials(self, lookup: CredentialsLookup) -> None:
        """Where an account's credentials come from (the composition root wires the accounts'
        credentials resource here; until then only the default credentials have a URL)."""
        self.accounts = _CredentialsCache(lookup)

    @staticmethod
    def handles(scope: Scope) -> bool:
        return scope["type"] == "http" and str(scope["path"]).startswith(PREFIX)

    async def close(self) -> None:
        await self.committer.close()
        await self.rise_committer.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context.set_context(_NO_REQUEST_ID)  # this request's, once one is needed
        parts = str(scope["path"])[len(PREFIX) :].split("/")
        provider = parts[0] if parts[0] in PROVIDERS else "unknown"
        try:
            status, body = await self._handle(scope, receive, parts)
        except _Refused as refused:
            metrics.count(provider, refused.outcome)
            await _problem(send, _request_id(), refused.error, refused.extra)
            return
        await _answer(send, None, status, body, _JSON if body[:1] == b"{" else None)

    async def _handle(self, scope: Scope, receive: Receive, parts: list[str]) -> tuple[int, bytes]:
        # An account's URL names its credentials by id: anything else (NUL, another prefix,
        # garbage) is no receiver, and never reaches the database.
        if (
            len(parts) > 2
            or parts[0] not in PROVIDERS
            or (len(parts) == 2 and not has_prefix(parts[1], "pcr"))
        ):
            raise _Refused(
                WEBHOOK_RECEIVER_UNKNOWN("No webhook URL here."), metrics.UNKNOWN_RECEIVER, []
            )
        provider = parts[0]
        credentials_id = parts[1] if len(parts) == 2 else DEFAULT
        method = scope["method"]
        if method == "GET" and provider == "braintree":
            return await self._braintree_challenge(scope, credentials_id)
        if method != "POST":
            error = MethodNotAllowed("Provider webhooks are POSTed.")
            raise _Refused(error, metrics.UNKNOWN_RECEIVER, [(b"allow", b"POST")])
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        body = await self._read_body(headers, receive)
        credentials = await self._credentials(provider, credentials_id)
        try:
            event = await self.verifiers.verify(credentials, body, headers)
        except KassaError as error:
            self._refused(provider, credentials, error)
        row = NewEvent(
            provider=provider,
            credentials_id=credentials.id,
            account_id=credentials.account_id,
            livemode=credentials.livemode,
            event_id=event.event_id,
            event_type=event.event_type,
            payload=event.payload,
            payload_json=event.payload_json,
        )
        try:
            committer = self.rise_committer if provider == "rise" else self.committer
            stored = await committer.store(row)
        except Exception:
            _request_id()
            log.exception(
                "an inbound webhook could not be stored",
                extra={"provider": provider, "credentials_id": credentials.id},
            )
            unavailable = ServiceUnavailable("The event could not be stored; send it again later.")
            raise _Refused(unavailable, metrics.FAILED, [(b"retry-after", b"5")]) from None
        metrics.count(provider, metrics.DUPLICATE if stored.duplicate else metrics.STORED)
        answer: dict[str, Any] = {"received": True, "duplicate": stored.duplicate}
        if not stored.duplicate:
            answer["id"] = stored.id
        return 200, orjson.dumps(answer)

    def _refused(self, provider: str, credentials: Credentials, error: KassaError) -> NoReturn:
        if isinstance(error, ServiceUnavailable):  # nothing wrong with the delivery itself
            _request_id()
            log.warning(
                "inbound webhook not verified: %s",
                error.message,
                extra={"provider": provider, "credentials_id": credentials.id, "code": error.code},
            )
            raise _Refused(error, metrics.FAILED, [(b"retry-after", b"30")])
        outcome = metrics.INVALID_SIGNATURE
        if error.code == INVALID_WEBHOOK_PAYLOAD.code:
            outcome = metrics.INVALID_PAYLOAD
        elif error.code == WEBHOOK_RECEIVER_UNKNOWN.code:
            outcome = metrics.UNKNOWN_RECEIVER
        # The reason, never the body or the headers (they carry the signature).
        _request_id()
        log.warning(
            "inbound webhook refused: %s",
            error.message,
            extra={"provider": provider, "credentials_id": credentials.id, "code": error.code},
        )
        if error.code == INVALID_SIGNATURE.code:
            self.alarm.record(provider, credentials.id, credentials.account_id)
        raise _Refused(error, outcome, [])

    async def _credentials(self, provider: str, credentials_id: str) -> Credentials:
        if credentials_id == DEFAULT:
            found = self.defaults.get(provider)
        else:
            try:
                found = await self.accounts.get(provider, credentials_id)
            except Exception:
                _request_id()
                log.exception("the credentials of a webhook URL could not be read")
                error = ServiceUnavailable("The webhook's credentials could not be read.")
                raise _Refused(error, metrics.FAILED, [(b"retry-after", b"5")]) from None
        if found is None:
            raise _Refused(
                WEBHOOK_RECEIVER_UNKNOWN(f"No {provider} credentials here."),
                metrics.UNKNOWN_RECEIVER,
                [],
            )
        return found

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes:
        too_large = _Refused(
            PayloadTooLarge(f"Webhook bodies are at most {self.max_body} bytes."),
            metrics.TOO_LARGE,
            [(b"connection", b"close")],
        )
        length = headers.get("content-length", "")
        if ascii_digits(length) and int(length) > self.max_body:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                error = INVALID_WEBHOOK_PAYLOAD("The body was cut off.")
                raise _Refused(error, metrics.INVALID_PAYLOAD, [])
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _braintree_challenge(self, scope: Scope, credentials_id: str) -> tuple[int, bytes]:
        """Braintree's check of a new webhook URL: ``GET ?bt_challenge=...`` answered with the
        SDK's ``verify`` (``public_key|signature``)."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        challenge = (query.get("bt_challenge") or [""])[0]
        credentials = await self._credentials("braintree", credentials_id)
        try:
            gateway = self.verifiers._gateway(credentials)
            return 200, gateway.webhook_notification.verify(challenge).encode()
        except Exception:
            raise _Refused(
                INVALID_SIGNATURE("bt_challenge is not a Braintree challenge."),
                metrics.INVALID_SIGNATURE,
                [],
            ) from None


def _request_id() -> str:
    """The request's id, made when first needed (a refusal, a log line): an accepted
    delivery needs none, and making one costs as much as verifying a Stripe signature."""
    current = context.current().request_id
    if current is None:
        current = new_id("req")
        context.set_context(context.RequestContext(request_id=current))
    return current


async def _answer(
    send: Send,
    request_id: str | None,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *(headers or [(b"content-type", b"text/plain; charset=utf-8")]),
                (b"content-length", str(len(body)).encode()),
                *([(b"x-request-id", request_id.encode())] if request_id else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _problem(
    send: Send, request_id: str, error: KassaError, extra: list[tuple[bytes, bytes]]
) -> None:
    """An RFC 7807 problem document, as the API's (``api/errors.py``) are."""
    status = _status(error)
    http_problems.labels(str(status), error.code).inc()
    document = {
        "type": f"urn:kassa:error:{error.code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": error.message,
        "code": error.code,
        "request_id": request_id,
    }
    await _answer(send, request_id, status, orjson.dumps(document), [*_PROBLEM, *extra])
