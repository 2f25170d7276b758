"""The mock provider: a first-class, deterministic adapter for tests, demos and benchmarks."""

from kassa.providers.mock.credentials import MOCK_SPEC
from kassa.providers.mock.ledger import MockLedger, ledger_file
from kassa.providers.mock.provider import MockProvider
from kassa.providers.mock.scenarios import Scenario, parse_token

__all__ = ["MOCK_SPEC", "MockLedger", "MockProvider", "Scenario", "ledger_file", "parse_token"]
