"""The mock payout provider: deterministic payouts for development, tests and benchmarks."""

from kassa.providers.payout_mock.ledger import PayoutLedger, payout_ledger_file
from kassa.providers.payout_mock.provider import MockPayoutProvider
from kassa.providers.payout_mock.scenarios import PayoutScenario, scenario_of

__all__ = [
    "MockPayoutProvider",
    "PayoutLedger",
    "PayoutScenario",
    "payout_ledger_file",
    "scenario_of",
]
