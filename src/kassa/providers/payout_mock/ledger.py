"""The mock payout provider's record of what it paid, keyed by idempotency key.

Like the pay-ins mock's ledger it outlives any one kassa process and is the same for all of
them: a small SQLite file (``<KASSA_VAR_DIR>/mock-payouts.db``, WAL mode, created 0600) that
the API (invitations, KYC), the worker (batches, polling) and the CLI open. A key is paid at
most once: a payment sent again with its key finds its row and is answered from it. Without a
file (a ``MockPayoutProvider`` built directly) it lives in this process's memory.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

LEDGER_FILE = "mock-payouts.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS payouts (
    key TEXT PRIMARY KEY, transaction_id TEXT NOT NULL, payee_id TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,
    error_code TEXT, polls INTEGER NOT NULL, polls_needed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sends (key TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kyc (payee_id TEXT PRIMARY KEY, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS invites (
    email TEXT PRIMARY KEY, invite_id TEXT NOT NULL, payee_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS funds (currency TEXT PRIMARY KEY, amount INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS webhooks (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, type TEXT NOT NULL, due_at REAL NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (delivered, due_at);
"""


def payout_ledger_file(var_dir: Path) -> Path:
    return var_dir / LEDGER_FILE


@dataclass(frozen=True, slots=True)
class StoredPayout:
    key: str
    transaction_id: str
    payee_id: str
    amount: int
    currency: str
    status: str  # processing | completed | failed
    error_code: str | None
    polls: int
    polls_needed: int


@dataclass(frozen=True, slots=True)
class DueWebhook:
    """A simulated webhook whose time has come, with the payout as it is now."""

    id: str
    type: str  # payment.completed | payment.failed
    payout: StoredPayout


class PayoutLedger:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:  # opened on first use: choosing the provider touches no file
            if self.path is None:
                db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            else:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
                db = sqlite3.connect(
                    self.path, timeout=10, check_same_thread=False, isolation_level=None
                )
                db.execute("PRAGMA journal_mode=WAL")  # several processes read and write it
                db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    # -- sends: how often each key was sent, whatever came of it -------------------------------
    def count_sends(self, keys: Iterable[str]) -> dict[str, int]:
        """Count one more send of each key; the counts before this one."""
        keys = list(keys)
        with self._lock:
            db = self._conn()
            before = self._sends(db, keys)
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO sends VALUES (?, 1) ON CONFLICT DO UPDATE SET count = count + 1",
                [(k,) for k in keys],
            )
            db.execute("COMMIT")
        return before

    @staticmethod
    def _sends(db: sqlite3.Connection, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(keys, 0)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, count in db.execute(
                f"SELECT key, count FROM sends WHERE key IN ({marks})",  # noqa: S608 (marks only)
                chunk,
            ):
                found[key] = int(count)
        return found

    def sends(self, key: str) -> int:
        with self._lock:
            return self._sends(self._conn(), [key])[key]

    # -- payouts ----------------------------------------------------------------------------
    def payouts(self, keys: Iterable[str]) -> dict[str, StoredPayout]:
        keys = list(keys)
        found: dict[str, StoredPayout] = {}
        with self._lock:
            db = self._conn()
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in db.execute(
                    f"SELECT * FROM payouts WHERE key IN ({marks})",  # noqa: S608 (marks only)
                    chunk,
                ):
                    found[row[0]] = StoredPayout(*row)
        return found

    def add_payouts(
        self, payouts: list[StoredPayout], webhooks: Sequence[tuple[str, str, str, float]] = ()
    ) -> None:
        """Record new payouts and the webhooks they will send (id, key, type, due at, in
        seconds since the epoch) in one transaction; a key already recorded keeps its row."""
        if not payouts:
            return
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO webhooks (id, key, type, due_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                webhooks,
            )
            db.executemany(
                "INSERT INTO payouts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    (
                        p.key,
                        p.transaction_id,
                        p.payee_id,
                        p.amount,
                        p.currency,
                        p.status,
                        p.error_code,
                        p.polls,
                        p.polls_needed,
                    )
                    for p in payouts
                ],
            )
            db.execute("COMMIT")

    def poll(self, key: str) -> StoredPayout | None:
        """One status lookup: a processing payout counts it, and completes at its last (one
        completed by time, once its webhook is due)."""
        with self._lock:
            db = self._conn()
            self._complete_due(db, time.time())
            db.execute(
                "UPDATE payouts SET polls = polls + 1, status = CASE WHEN polls_needed > 0 "
                "AND polls + 1 >= polls_needed THEN 'completed' ELSE status END "
                "WHERE key = ? AND status = 'processing'",
                (key,),
            )
            row = db.execute("SELECT * FROM payouts WHERE key = ?", (key,)).fetchone()
        return None if row is None else StoredPayout(*row)

    @staticmethod
    def _complete_due(db: sqlite3.Connection, now: float) -> None:
        # payouts completed by time (polls_needed 0) are completed once their webhook is due
        db.execute(
            "UPDATE payouts SET status = 'completed' WHERE status = 'processing' "
            "AND polls_needed = 0 AND key IN (SELECT key FROM webhooks "
            "WHERE type = 'payment.completed' AND due_at <= ?)",
            (now,),
        )

    # -- simulated webhooks ---------------------------------------------------------------------
    def due_webhooks(self, limit: int = 500) -> list[DueWebhook]:
        """Webhooks due and not delivered yet, oldest first."""
        now = time.time()
        with self._lock:
            db = self._conn()
            self._complete_due(db, now)
            rows = db.execute(
                "SELECT w.id, w.type, p.* FROM webhooks w JOIN payouts p ON p.key = w.key "
                "WHERE w.delivered = 0 AND w.due_at <= ? ORDER BY w.due_at, w.id LIMIT ?",
                (now, limit),
            ).fetchall()
        return [DueWebhook(row[0], row[1], StoredPayout(*row[2:])) for row in rows]

    def delivered(self, ids: Iterable[str]) -> None:
        """Mark webhooks delivered (kassa stored them): they are not sent again."""
        with self._lock:
            self._conn().executemany(
                "UPDATE webhooks SET delivered = 1 WHERE id = ?", [(i,) for i in ids]
            )

    def paid_count(self, payee_id: str | None = None) -> int:
        """Payouts paid or being paid (to ``payee_id``): what a double payment would show."""
        sql = "SELECT count(*) FROM payouts WHERE status != 'failed'"
        args: tuple[str, ...] = ()
        if payee_id is not None:
            sql, args = sql + " AND payee_id = ?", (payee_id,)
        with self._lock:
            return int(self._conn().execute(sql, args).fetchone()[0])

    def spent(self, currency: str) -> int:
        with self._lock:
            row = (
                self._conn()
                .execute(
                    "SELECT coalesce(sum(amount), 0) FROM payouts "
                    "WHERE currency = ? AND status != 'failed'",
                    (currency,),
                )
                .fetchone()
            )
        return int(row[0])

    # -- funds, KYC, invitations ----------------------------------------------------------------
    def funds(self, currency: str, default: int) -> int:
        with self._lock:
            row = (
                self._conn()
                .execute("SELECT amount FROM funds WHERE currency = ?", (currency,))
                .fetchone()
            )
        return default if row is None else int(row[0])

    def set_funds(self, currency: str, amount: int) -> None:
        with self._lock:
            self._conn().execute(
                "INSERT INTO funds VALUES (?, ?) ON CONFLICT DO UPDATE SET amount = ?",
                (currency, amount, amount),
            )

    def kyc(self, payee_id: str) -> str | None:
        with self._lock:
            row = (
                self._conn()
                .execute("SELECT status FROM kyc WHERE payee_id = ?", (payee_id,))
                .fetchone()
            )
        return None if row is None else str(row[0])

    def set_kyc(self, payee_id: str, status: str) -> None:
        with self._lock:
            self._conn().execute(
                "INSERT INTO kyc VALUES (?, ?) ON CONFLICT DO UPDATE SET status = ?",
                (payee_id, status, status),
            )

    def invite(self, email: str, invite_id: str, payee_id: str) -> tuple[str, str]:
        """The invitation of ``email`` (the first one made, whoever asks again)."""
        with self._lock:
            db = self._conn()
            db.execute(
                "INSERT INTO invites VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (email.lower(), invite_id, payee_id),
            )
            row = db.execute(
                "SELECT invite_id, payee_id FROM invites WHERE email = ?", (email.lower(),)
            ).fetchone()
        return str(row[0]), str(row[1])

    def email_of(self, payee_id: str) -> str | None:
        with self._lock:
            row = (
                self._conn()
                .execute("SELECT email FROM invites WHERE payee_id = ?", (payee_id,))
                .fetchone()
            )
        return None if row is None else str(row[0])
