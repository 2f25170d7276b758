"""Who sees which payout records: an account's admins, managers and API keys see all of the
account's; an affiliate user only its own affiliate's (its record, payees, commissions and
payouts), and changes only its payout preferences.

Records of another affiliate are ``NotFound``, exactly as another account's are, so an
affiliate cannot learn which ids exist; what an affiliate may never do is 403
``affiliate_not_permitted``. Executing and cancelling payouts (creating or cancelling a
batch) is an admin's: a manager user gets 403 ``insufficient_role``. API keys keep their
scopes (``read``, ``write``): an integration has no role.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.errors import AFFILIATE_NOT_LINKED
from kassa.accounts.models import User
from kassa.accounts.principal import Principal
from kassa.accounts.users import create_user
from kassa.core.currencies import exponent
from kassa.core.errors import InvalidRequest, NotFound
from kassa.core.money import Money
from kassa.payouts.errors import AFFILIATE_NOT_PERMITTED
from kassa.payouts.models import Affiliate

# What an affiliate may change of its own record: when and from which sum it is paid.
# Never its rate, tiers, status, e-mail or where the money goes (payees: an admin's).
PREFERENCES = frozenset({"minimum_payout", "schedule", "schedule_time", "schedule_timezone"})
# An affiliate's own minimum payout: at least the install's PAYMENT_MINIMUM_THRESHOLD (so
# nobody is paid in amounts a payout costs more than), at most this many times it.
MAX_MINIMUM_FACTOR = 100


@dataclass(frozen=True, slots=True)
class Viewer:
    """Whose payout records a request sees."""

    account_id: str
    livemode: bool
    affiliate_id: str | None  # an affiliate user: only this affiliate's

    def owns(self, affiliate_id: str) -> bool:
        return self.affiliate_id is None or self.affiliate_id == affiliate_id

    def require_own(self, affiliate_id: str, what: str, object_id: str) -> None:
        """Another affiliate's record is missing, as another account's is."""
        if not self.owns(affiliate_id):
            raise NotFound(f"No such {what}: {object_id!r}.", param="id")


def viewer(principal: Principal) -> Viewer:
    return Viewer(principal.require_account(), principal.livemode, principal.affiliate_id)


def refuse_affiliate(principal: Principal, action: str) -> None:
    """An affiliate user may not do ``action`` (it would change the account's records)."""
    if principal.affiliate_id is not None:
        raise AFFILIATE_NOT_PERMITTED(
            f"An affiliate user cannot {action}.", details={"action": action}
        )


def require_payout_admin(principal: Principal, action: str) -> None:
    """Executing or cancelling payouts: an admin user, or an API key (by its scopes)."""
    refuse_affiliate(principal, action)
    if not principal.is_api_key:
        principal.require_role("admin")


def check_preferences(
    changes: dict[str, Any], affiliate: Affiliate, *, default_minimum: str
) -> None:
    """What an affiliate user sends to update its own record: only preferences, and its
    minimum payout in its minimum's currency, within the bounds."""
    refused = sorted(set(changes) - PREFERENCES)
    if refused:
        raise AFFILIATE_NOT_PERMITTED(
            f"An affiliate user cannot change {', '.join(refused)}; it may change "
            f"{', '.join(sorted(PREFERENCES))}.",
            param=refused[0],
            details={"fields": refused},
        )
    minimum = changes.get("minimum_payout")
    if "minimum_payout" in changes and not isinstance(minimum, Money):
        raise InvalidRequest("minimum_payout cannot be null.", param="minimum_payout")
    if isinstance(minimum, Money):
        if minimum.currency != affiliate.minimum_currency:
            raise InvalidRequest(
                f"Your minimum payout is in {affiliate.minimum_currency}.",
                param="minimum_payout",
            )
        floor = int(Decimal(default_minimum).scaleb(exponent(minimum.currency)))
        if not floor <= minimum.minor <= floor * MAX_MINIMUM_FACTOR:
            low, high = (
                Money(floor, minimum.currency),
                Money(floor * MAX_MINIMUM_FACTOR, minimum.currency),
            )
            raise InvalidRequest(
                f"A minimum payout is from {low.to_decimal_string()} to "
                f"{high.to_decimal_string()} {minimum.currency}.",
                param="minimum_payout",
            )


async def create_affiliate_user(
    session: AsyncSession, *, email: str, password: str, account_id: str, affiliate_id: str
) -> User:
    """A user with the affiliate role, linked to an affiliate of ``account_id``."""
    affiliate = await session.scalar(
        select(Affiliate).where(Affiliate.id == affiliate_id, Affiliate.account_id == account_id)
    )
    if affiliate is None:
        raise NotFound(f"No such affiliate in {account_id}: {affiliate_id!r}.", param="affiliate")
    return await create_user(
        session,
        email=email,
        password=password,
        role="affiliate",
        account_id=account_id,
        affiliate_id=affiliate.id,
    )


async def linked_affiliate(session: AsyncSession, user: User) -> Affiliate:
    """The affiliate an affiliate user signs in as (refused without one of its account)."""
    affiliate = None
    if user.affiliate_id is not None:
        affiliate = await session.scalar(
            select(Affiliate).where(
                Affiliate.id == user.affiliate_id, Affiliate.account_id == user.account_id
            )
        )
    if affiliate is None:
        raise AFFILIATE_NOT_LINKED("This affiliate user is linked to no affiliate of its account.")
    return affiliate
