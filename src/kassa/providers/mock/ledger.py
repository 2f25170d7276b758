"""The mock's own per-process record of what it did, keyed by idempotency key.

A repeated call with the same key answers from here and never charges twice. Other processes
do not see it, and need not: the mock's answers are a pure function of the request, so any
process answers the same for the same key (see ``MockProvider.retrieve``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kassa.providers.base import ChargeResult, DeclinedError, RefundResult


@dataclass
class MockLedger:
    charges: dict[str, ChargeResult | DeclinedError] = field(default_factory=dict)
    charge_amounts: dict[str, int] = field(default_factory=dict)
    captures: dict[str, ChargeResult] = field(default_factory=dict)
    cancels: dict[str, ChargeResult] = field(default_factory=dict)
    refunds: dict[str, RefundResult] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)  # "authorize:<key>" -> calls received

    def charge_count(self, idempotency_key: str) -> int:
        """How many charges this key created here: 0 or 1, however often it was sent."""
        return 1 if idempotency_key in self.charges else 0

    def clear(self) -> None:
        for part in (self.charges, self.charge_amounts, self.captures, self.cancels, self.refunds):
            part.clear()
        self.calls.clear()
