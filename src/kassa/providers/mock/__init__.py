"""The mock provider: a first-class, deterministic adapter for tests, demos and benchmarks."""

from kassa.providers.mock.ledger import MockLedger
from kassa.providers.mock.provider import MockProvider
from kassa.providers.mock.scenarios import Scenario, parse_token

__all__ = ["MockLedger", "MockProvider", "Scenario", "parse_token"]
