"""The mock provider's own record of what it received and did, keyed by idempotency key.

Like a real provider's records it outlives any one kassa process and is the same for all of
them: a small SQLite file (``<KASSA_VAR_DIR>/mock-provider.db``, WAL mode, created 0600) that
every API process, worker and CLI command of the install opens. So reconciliation in the
worker, and the reconciliation report in any process, see what the mock actually did for a
payment another process sent, or after a restart, and nothing for a payment that was never
sent. A ledger without a file (a ``MockProvider`` built directly) lives in memory, per process.

Rows are only ever added, never changed: a repeated call with the same key finds its row and
answers the same, so it never charges (captures, refunds) twice. A charge that waits for the
customer (3-D Secure) has a challenge; the customer's action is a row of its own, added once,
whichever process plays the customer (the test-helper route, a test, the CLI).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kassa.core.money import Money
from kassa.providers.base import MethodDetails

LEDGER_FILE = "mock-provider.db"
OperationKind = Literal["capture", "cancel", "refund"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    provider TEXT NOT NULL, operation TEXT NOT NULL, key TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (provider, operation, key));
CREATE TABLE IF NOT EXISTS charges (
    provider TEXT NOT NULL, key TEXT NOT NULL, payment_id TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, capture INTEGER NOT NULL,
    decline_code TEXT, method TEXT,
    PRIMARY KEY (provider, key));
CREATE INDEX IF NOT EXISTS charges_by_payment ON charges (provider, payment_id);
CREATE TABLE IF NOT EXISTS operations (
    provider TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, payment_id TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, result_id TEXT NOT NULL,
    PRIMARY KEY (provider, kind, key));
CREATE INDEX IF NOT EXISTS operations_by_payment ON operations (provider, payment_id);
CREATE TABLE IF NOT EXISTS challenges (
    provider TEXT NOT NULL, payment_id TEXT NOT NULL, client_secret TEXT NOT NULL,
    fails_with TEXT, PRIMARY KEY (provider, payment_id));
CREATE TABLE IF NOT EXISTS customer_actions (
    provider TEXT NOT NULL, payment_id TEXT NOT NULL, PRIMARY KEY (provider, payment_id));
"""


_CLEAR = (
    "DELETE FROM calls WHERE provider = ?",
    "DELETE FROM charges WHERE provider = ?",
    "DELETE FROM operations WHERE provider = ?",
    "DELETE FROM challenges WHERE provider = ?",
    "DELETE FROM customer_actions WHERE provider = ?",
)
_CHARGE_BY = {
    "key": "SELECT key, payment_id, amount, currency, capture, decline_code, method "
    "FROM charges WHERE provider = ? AND key = ?",
    "payment_id": "SELECT key, payment_id, amount, currency, capture, decline_code, method "
    "FROM charges WHERE provider = ? AND payment_id = ?",
}


def ledger_file(var_dir: Path) -> Path:
    """Where the mock providers of an install keep their ledger."""
    return var_dir / LEDGER_FILE


@dataclass(frozen=True, slots=True)
class StoredCharge:
    """A charge the mock received: authorized or captured, or declined (``decline_code``)."""

    key: str
    provider_payment_id: str
    amount: Money
    capture: bool
    decline_code: str | None = None
    method: MethodDetails | None = None


@dataclass(frozen=True, slots=True)
class StoredOperation:
    """A capture, cancellation or refund the mock made on one of its payments."""

    kind: OperationKind
    key: str
    provider_payment_id: str
    amount: Money
    result_id: str  # the refund's id for a refund, the payment's otherwise


@dataclass(frozen=True, slots=True)
class Challenge:
    """What a charge waits for: the customer's 3-D Secure, which fails with ``fails_with``
    (a decline code) or, when None, passes, once the customer ``acted``."""

    client_secret: str
    fails_with: str | None
    acted: bool


@dataclass(frozen=True, slots=True)
class StoredPayment:
    charge: StoredCharge
    operations: tuple[StoredOperation, ...]
    challenge: Challenge | None = None


def _connect(path: Path | None) -> sqlite3.Connection:
    if path is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))  # never world-readable
        conn = sqlite3.connect(path, timeout=10, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")  # several processes read and write it
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    return conn


def _method_json(method: MethodDetails | None) -> str | None:
    return None if method is None else json.dumps(dataclasses.asdict(method))


def _method(text: str | None) -> MethodDetails | None:
    return None if text is None else MethodDetails(**json.loads(text))


class MockLedger:
    """The records of the mock provider named ``provider``, in the file ``path`` (shared by
    every process) or, without one, in this process's memory."""

    def __init__(self, provider: str, path: Path | None = None) -> None:
        self.provider = provider
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:  # opened on first use: building a registry touches no file
            self._db = _connect(self.path)
        return self._db

    # -- calls received (how often each key was sent, whatever came of it) -------------------
    def count_call(self, operation: str, key: str) -> None:
        self._conn().execute(
            "INSERT INTO calls VALUES (?, ?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1",
            (self.provider, operation, key),
        )

    def calls(self, operation: str, key: str) -> int:
        row = (
            self._conn()
            .execute(
                "SELECT count FROM calls WHERE provider = ? AND operation = ? AND key = ?",
                (self.provider, operation, key),
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    # -- charges ------------------------------------------------------------------------------
    def charge(self, key: str) -> StoredCharge | None:
        return self._charge_where("key", key)

    def add_charge(self, charge: StoredCharge) -> StoredCharge:
        """Record ``charge`` unless its key has one already (another process may have been
        first); returns the one on record."""
        self._conn().execute(
            "INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                self.provider,
                charge.key,
                charge.provider_payment_id,
                charge.amount.minor,
                charge.amount.currency,
                int(charge.capture),
                charge.decline_code,
                _method_json(charge.method),
            ),
        )
        stored = self.charge(charge.key)
        assert stored is not None
        return stored

    def charge_count(self, idempotency_key: str) -> int:
        """How many charges this key created here: 0 or 1, however often it was sent."""
        return 0 if self.charge(idempotency_key) is None else 1

    def _charge_where(
        self, column: Literal["key", "payment_id"], value: str
    ) -> StoredCharge | None:
        row = self._conn().execute(_CHARGE_BY[column], (self.provider, value)).fetchone()
        if row is None:
            return None
        key, payment_id, amount, currency, capture, decline_code, method = row
        return StoredCharge(
            key, payment_id, Money(amount, currency), bool(capture), decline_code, _method(method)
        )

    # -- captures, cancellations, refunds -----------------------------------------------------
    def add_operation(self, operation: StoredOperation) -> StoredOperation:
        """Record ``operation`` unless its key has one already; returns the one on record."""
        conn = self._conn()
        conn.execute(
            "INSERT INTO operations VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                self.provider,
                operation.kind,
                operation.key,
                operation.provider_payment_id,
                operation.amount.minor,
                operation.amount.currency,
                operation.result_id,
            ),
        )
        row = conn.execute(
            "SELECT payment_id, amount, currency, result_id FROM operations "
            "WHERE provider = ? AND kind = ? AND key = ?",
            (self.provider, operation.kind, operation.key),
        ).fetchone()
        payment_id, amount, currency, result_id = row
        return StoredOperation(
            operation.kind, operation.key, payment_id, Money(amount, currency), result_id
        )

    def operations(self, provider_payment_id: str) -> tuple[StoredOperation, ...]:
        rows = (
            self._conn()
            .execute(
                "SELECT kind, key, amount, currency, result_id FROM operations "
                "WHERE provider = ? AND payment_id = ? ORDER BY rowid",
                (self.provider, provider_payment_id),
            )
            .fetchall()
        )
        return tuple(
            StoredOperation(kind, key, provider_payment_id, Money(amount, currency), result_id)
            for kind, key, amount, currency, result_id in rows
        )

    def refund_count(self) -> int:
        row = (
            self._conn()
            .execute(
                "SELECT count(*) FROM operations WHERE provider = ? AND kind = 'refund'",
                (self.provider,),
            )
            .fetchone()
        )
        return int(row[0])

    # -- the customer's action --------------------------------------------------------------
    def add_challenge(
        self, provider_payment_id: str, client_secret: str, fails_with: str | None
    ) -> None:
        self._conn().execute(
            "INSERT INTO challenges VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (self.provider, provider_payment_id, client_secret, fails_with),
        )

    def challenge(self, provider_payment_id: str) -> Challenge | None:
        conn = self._conn()
        row = conn.execute(
            "SELECT client_secret, fails_with FROM challenges WHERE provider = ? AND payment_id = ?",
            (self.provider, provider_payment_id),
        ).fetchone()
        if row is None:
            return None
        acted = conn.execute(
            "SELECT 1 FROM customer_actions WHERE provider = ? AND payment_id = ?",
            (self.provider, provider_payment_id),
        ).fetchone()
        return Challenge(row[0], row[1], acted is not None)

    def record_action(self, provider_payment_id: str) -> None:
        """The customer completed the challenge of this payment (once; again changes nothing)."""
        self._conn().execute(
            "INSERT INTO customer_actions VALUES (?, ?) ON CONFLICT DO NOTHING",
            (self.provider, provider_payment_id),
        )

    # -- lookups ------------------------------------------------------------------------------
    def payment(self, *, key: str, provider_payment_id: str | None = None) -> StoredPayment | None:
        """A payment by the provider's id, else by its charge's idempotency key, with what was
        done to it since; None when no such charge was ever received."""
        charge = None
        if provider_payment_id:
            charge = self._charge_where("payment_id", provider_payment_id)
        if charge is None:
            charge = self.charge(key)
        if charge is None:
            return None
        pid = charge.provider_payment_id
        return StoredPayment(charge, self.operations(pid), self.challenge(pid))

    def clear(self) -> None:
        conn = self._conn()
        for statement in _CLEAR:
            conn.execute(statement, (self.provider,))
