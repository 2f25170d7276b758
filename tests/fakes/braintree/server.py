"""FakeBraintree: a loopback HTTP server speaking the Braintree gateway's XML API, as the
official SDK sends it, so ``braintree.BraintreeGateway`` runs against it unchanged.

It checks what the gateway checks (Basic auth with the public and private key, the merchant
id in the path, an ``X-ApiVersion`` header), keeps state across calls (``state``), answers
with the gateway's XML (gzip when asked), and can be told to fail (``fail_next``: an HTTP
status, or a hang past the client's timeout before or after the request took effect). It
settles submitted transactions (``state.auto_settle``) and posts signed webhooks to
``webhooks.url``. The same controls are reachable over HTTP under ``/__control/`` for a
kassa running in another process.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.braintree import webhooks
from tests.fakes.braintree.state import Answer, GatewayState
from tests.fakes.braintree.xml import Collection, document, parse


@dataclass
class Fault:
    """One injected failure: ``status`` answered instead of the real answer, or ``hang``
    seconds waited (``after``: once the request took effect, so only its answer is lost)."""

    status: int | None = None
    hang: float = 0.0
    after: bool = False
    drop: bool = False  # close the connection without answering
    match: str | None = None  # a regular expression searched in "METHOD /path"
    times: int = 1


Route = Callable[[dict[str, Any], re.Match[str]], Answer | None]


class FakeBraintree:
    def __init__(
        self,
        *,
        merchant_id: str = "kassa_merchant",
        public_key: str = "kassa_public",
        private_key: str = "kassa_private_key",
        **state_options: Any,
    ) -> None:
        self.merchant_id = merchant_id
        self.public_key = public_key
        self.private_key = private_key
        self.state = GatewayState(merchant_id, **state_options)
        self.webhooks = webhooks.Webhooks()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Route]] = [
            ("POST", re.compile(r"/transactions$"), self._sale),
            ("POST", re.compile(r"/transactions/advanced_search_ids$"), self._search_ids),
            ("POST", re.compile(r"/transactions/advanced_search$"), self._search),
            ("GET", re.compile(r"/transactions/(?P<id>[^/]+)$"), self._find),
            (
                "PUT",
                re.compile(r"/transactions/(?P<id>[^/]+)/submit_for_settlement$"),
                self._submit,
            ),
            ("PUT", re.compile(r"/transactions/(?P<id>[^/]+)/void$"), self._void),
            ("POST", re.compile(r"/transactions/(?P<id>[^/]+)/refund$"), self._refund),
            ("PUT", re.compile(r"/transactions/(?P<id>[^/]+)/settle$"), self._testing_settle),
            (
                "PUT",
                re.compile(r"/transactions/(?P<id>[^/]+)/settlement_decline$"),
                self._testing_decline,
            ),
            ("POST", re.compile(r"/customers$"), self._create_customer),
            ("GET", re.compile(r"/customers/(?P<id>[^/?]+)"), self._find_customer),
            ("POST", re.compile(r"/payment_methods$"), self._create_payment_method),
            (
                "GET",
                re.compile(r"/merchant_accounts/?(\?page=(?P<page>\d+))?$"),
                self._merchant_accounts,
            ),
            (
                "GET",
                re.compile(r"/payment_methods/any/(?P<token>[^/]+)$"),
                self._find_payment_method,
            ),
        ]

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeBraintree:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_PUT(self) -> None:
                fake._handle(self, "PUT")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.webhooks.drain(1.0)

    @contextmanager
    def running(self) -> Iterator[FakeBraintree]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    # -- controls --------------------------------------------------------------------------
    def fail_next(
        self,
        status: int | None = None,
        *,
        hang: float = 0.0,
        after: bool = False,
        match: str | None = None,
        times: int = 1,
        drop: bool = False,
    ) -> None:
        with self._lock:
            self._faults.append(
                Fault(status=status, hang=hang, after=after, drop=drop, match=match, times=times)
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def settle(self, transaction_id: str, *, decline: bool = False) -> None:
        """Run settlement now (and send its webhook)."""
        kind = self.state.settle(transaction_id, decline=decline)
        if kind is not None:
            self._notify_transaction(kind, transaction_id, now=True)

    def open_dispute(self, transaction_id: str, reason: str = "fraud") -> str:
        """A chargeback on the transaction: ``dispute_opened`` is posted; its id returned."""
        dispute = self.state.open_dispute(transaction_id, reason)
        form = webhooks.notification(
            self.public_key,
            self.private_key,
            "dispute_opened",
            webhooks.subject_xml("dispute", dispute),
        )
        self.webhooks.send("dispute_opened", dispute["id"], form, now=True)
        return str(dispute["id"])

    def send_sample(self, kind: str, object_id: str) -> None:
        """Post the SDK's own sample notification of ``kind`` (signed with these keys)."""
        form = webhooks.sample(self.merchant_id, self.public_key, self.private_key, kind, object_id)
        self.webhooks.send(kind, object_id, form, now=True)

    def verify_destination(self) -> bool:
        """What Braintree does when a webhook URL is registered: ``GET url?bt_challenge=..``;
        the destination must answer ``public_key|hex(HMAC-SHA1(SHA1(private_key), challenge))``
        (the SDK's ``WebhookNotification.verify``)."""
        import secrets
        import urllib.parse
        import urllib.request

        assert self.webhooks.url is not None
        challenge = secrets.token_hex(10)
        url = f"{self.webhooks.url}?{urllib.parse.urlencode({'bt_challenge': challenge})}"
        with urllib.request.urlopen(url, timeout=self.webhooks.timeout) as answer:
            said = answer.read().decode().strip()
        return said == webhooks.sign(self.public_key, self.private_key, challenge.encode())

    def _notify_transaction(self, kind: str, transaction_id: str, *, now: bool) -> None:
        if self.webhooks.url is None:
            return
        with self.state.lock:
            body = self.state.transaction_xml(self.state.transactions[transaction_id])
        form = webhooks.notification(
            self.public_key, self.private_key, kind, webhooks.subject_xml("transaction", body)
        )
        self.webhooks.send(kind, transaction_id, form, now=now)

    # -- HTTP --------------------------------------------------------------------------------
    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.match is None or re.search(fault.match, f"{method} {path}"):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path
        if path.startswith("/__control/"):
            self._control(handler, method, path, body)
            return
        self.requests.append((method, path))
        refusal = self._refusal(handler, path)
        if refusal is not None:
            self._write(handler, refusal, b"")
            return
        fault = self._take_fault(method, path)
        if fault is not None and not fault.after:
            if fault.hang:
                time.sleep(fault.hang)
            if fault.drop:
                handler.close_connection = True
                return
            if fault.status is not None:
                self._write(handler, fault.status, b"")
                return
        answer = self._route(method, path[len(f"/merchants/{self.merchant_id}") :], body)
        if answer is None:
            self._write(handler, 404, b"")
            return
        payload = document(answer.root, answer.body)
        notify_first = self.webhooks.timing == "before"
        for transaction_id in answer.settle:
            kind = self.state.settle(transaction_id)
            if kind is not None:
                self._notify_transaction(kind, transaction_id, now=notify_first)
        if fault is not None and fault.after:
            if fault.hang:
                time.sleep(fault.hang)
            if fault.drop:
                handler.close_connection = True
                return
            if fault.status is not None:
                self._write(handler, fault.status, b"")
                return
        self._write(
            handler,
            answer.status,
            payload,
            gzip_ok="gzip" in (handler.headers.get("Accept-Encoding") or ""),
        )

    def _refusal(self, handler: BaseHTTPRequestHandler, path: str) -> int | None:
        version = handler.headers.get("X-ApiVersion") or ""
        if not version.isdigit() or int(version) < 4:
            return 426
        expected = base64.b64encode(f"{self.public_key}:{self.private_key}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {expected}":
            return 401
        if not path.startswith(f"/merchants/{self.merchant_id}/"):
            return 403
        return None

    def _route(self, method: str, path: str, body: bytes) -> Answer | None:
        for verb, pattern, route in self._routes:
            found = pattern.match(path)
            if verb == method and found:
                return route(parse(body), found)
        return None

    def _write(
        self, handler: BaseHTTPRequestHandler, status: int, payload: bytes, gzip_ok: bool = False
    ) -> None:
        try:
            handler.send_response(status)
            if payload:
                handler.send_header("Content-Type", "application/xml; charset=utf-8")
                if gzip_ok:
                    payload = gzip.compress(payload)
                    handler.send_header("Content-Encoding", "gzip")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a hang past its timeout)

    # -- routes ------------------------------------------------------------------------------
    def _sale(self, body: dict[str, Any], _: re.Match[str]) -> Answer:
        return self.state.sale(body.get("transaction") or {})

    def _find(self, _: dict[str, Any], found: re.Match[str]) -> Answer | None:
        return self.state.find(found["id"])

    def _submit(self, body: dict[str, Any], found: re.Match[str]) -> Answer | None:
        return self.state.submit_for_settlement(found["id"], body.get("transaction") or {})

    def _void(self, _: dict[str, Any], found: re.Match[str]) -> Answer | None:
        return self.state.void(found["id"])

    def _refund(self, body: dict[str, Any], found: re.Match[str]) -> Answer | None:
        return self.state.refund(found["id"], body.get("transaction") or {})

    def _testing_settle(self, _: dict[str, Any], found: re.Match[str]) -> Answer | None:
        if self.state.find(found["id"]) is None:
            return None
        self.settle(found["id"])
        return self.state.find(found["id"])

    def _testing_decline(self, _: dict[str, Any], found: re.Match[str]) -> Answer | None:
        if self.state.find(found["id"]) is None:
            return None
        self.settle(found["id"], decline=True)
        return self.state.find(found["id"])

    def _search_ids(self, body: dict[str, Any], _: re.Match[str]) -> Answer:
        return self.state.search_ids(body.get("search") or {})

    def _search(self, body: dict[str, Any], _: re.Match[str]) -> Answer:
        found = self.state.search(body.get("search") or {})
        return Answer(200, "credit_card_transactions", Collection("transaction", found))

    def _create_customer(self, body: dict[str, Any], _: re.Match[str]) -> Answer:
        return self.state.create_customer(body.get("customer") or {})

    def _find_customer(self, _: dict[str, Any], found: re.Match[str]) -> Answer | None:
        return self.state.find_customer(found["id"])

    def _create_payment_method(self, body: dict[str, Any], _: re.Match[str]) -> Answer:
        return self.state.create_payment_method(body.get("payment_method") or {})

    def _merchant_accounts(self, _: dict[str, Any], found: re.Match[str]) -> Answer:
        return self.state.merchant_accounts_page(int(found["page"] or 1))

    def _find_payment_method(self, _: dict[str, Any], found: re.Match[str]) -> Answer | None:
        return self.state.find_payment_method(found["token"])

    # -- the HTTP control API ------------------------------------------------------------
    def _control(
        self, handler: BaseHTTPRequestHandler, method: str, path: str, body: bytes
    ) -> None:
        """``POST /__control/{fail,settle/<id>,dispute/<id>,webhooks,nonce}`` with JSON."""
        args: dict[str, Any] = json.loads(body or b"{}")
        answer: dict[str, Any] = {}
        if path == "/__control/fail":
            self.fail_next(
                args.get("status"),
                hang=float(args.get("hang", 0)),
                after=bool(args.get("after", False)),
                match=args.get("match"),
                times=int(args.get("times", 1)),
                drop=bool(args.get("drop", False)),
            )
        elif path.startswith("/__control/settle/"):
            self.settle(path.rsplit("/", 1)[1], decline=bool(args.get("decline", False)))
        elif path.startswith("/__control/dispute/"):
            answer["dispute_id"] = self.open_dispute(
                path.rsplit("/", 1)[1], args.get("reason", "fraud")
            )
        elif path == "/__control/webhooks":
            self.webhooks.url = args.get("url", self.webhooks.url)
            self.webhooks.timing = args.get("timing", self.webhooks.timing)
            self.webhooks.repeat = int(args.get("repeat", self.webhooks.repeat))
        elif path == "/__control/nonce":
            answer["nonce"] = self.state.mint_nonce()
        else:
            self._write(handler, 404, b"")
            return
        payload = json.dumps(answer).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
