"""The payout provider of an install, chosen by ``Settings.payout_provider`` (decision 0011):
the mock (the default; its ledger under KASSA_VAR_DIR) or Rise from the ``RISE_*`` settings.

One client per settings object, so Rise's sign-in token is shared by every call of the
process. Tests put their own with ``use_provider``.
"""

from __future__ import annotations

from kassa.core.errors import ConfigurationError
from kassa.core.settings import Settings
from kassa.payouts.errors import PAYOUT_PROVIDER_UNCONFIGURED
from kassa.providers.base import PayoutProvider

PROVIDERS = ("rise", "mock")
_built: dict[int, tuple[Settings, PayoutProvider]] = {}


def use_provider(settings: Settings, provider: PayoutProvider) -> None:
    """Serve ``settings``' payouts with ``provider`` (replacing any built before)."""
    _built[id(settings)] = (settings, provider)


def payout_provider(settings: Settings) -> PayoutProvider:
    known = _built.get(id(settings))
    if known is not None and known[0] is settings:
        return known[1]
    provider = _build(settings)
    use_provider(settings, provider)
    return provider


def _build(settings: Settings) -> PayoutProvider:
    if settings.payout_provider.name == "mock":
        from kassa.providers.payout_mock import MockPayoutProvider, PayoutLedger
        from kassa.providers.payout_mock.ledger import payout_ledger_file

        ledger = PayoutLedger(payout_ledger_file(settings.var_dir))
        return MockPayoutProvider(ledger, batch_limit=settings.payment_batch_size)
    from kassa.providers.rise.config import config_from_settings
    from kassa.providers.rise.provider import RisePayoutProvider

    try:
        config = config_from_settings(settings)
    except ConfigurationError as exc:
        raise PAYOUT_PROVIDER_UNCONFIGURED(str(exc)) from None
    return RisePayoutProvider(config)
