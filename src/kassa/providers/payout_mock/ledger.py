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
from collections.abc import Iterable
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

    def add_payouts(self, payouts: list[StoredPayout]) -> None:
        """Record new payouts in one transaction (a key already recorded keeps its row)."""
        if not payouts:
            return
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
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
        """One status lookup: a processing payout counts it, and completes at its last."""
        with self._lock:
            db = self._conn()
            db.execute(
                "UPDATE payouts SET polls = polls + 1, status = CASE WHEN polls + 1 >= "
                "polls_needed THEN 'completed' ELSE status END "
                "WHERE key = ? AND status = 'processing'",
                (key,),
            )
            row = db.execute("SELECT * FROM payouts WHERE key = ?", (key,)).fetchone()
        return None if row is None else StoredPayout(*row)

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
