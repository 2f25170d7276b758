"""Who is calling: the result of authenticating a request."""

from __future__ import annotations

from dataclasses import dataclass

from kassa.accounts.errors import ACCOUNT_REQUIRED, INSUFFICIENT_ROLE, INSUFFICIENT_SCOPE


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str | None  # None only for platform admins
    livemode: bool
    scopes: frozenset[str]
    actor: str  # "api_key:key_..." or "user:usr_..."
    role: str | None = None
    api_key_id: str | None = None
    affiliate_id: str | None = None  # an affiliate user: only this affiliate's payout records

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_api_key(self) -> bool:
        return self.api_key_id is not None

    @property
    def key_modes(self) -> frozenset[bool]:
        """The modes whose API keys this principal may see and manage: a key only its own
        (a test key never sees a live one); a dashboard user, who has no mode, both."""
        return frozenset({self.livemode}) if self.is_api_key else frozenset({False, True})

    def require(self, *scopes: str) -> None:
        missing = [s for s in scopes if s not in self.scopes]
        if missing:
            needed = " and ".join(repr(s) for s in scopes)
            raise INSUFFICIENT_SCOPE(
                f"This needs the {needed} scope{'s' if len(scopes) > 1 else ''}; "
                f"these credentials lack {', '.join(repr(s) for s in missing)}.",
                details={"required_scope": missing[0], "required_scopes": list(scopes)},
            )

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise INSUFFICIENT_ROLE(f"This needs one of the roles: {', '.join(roles)}.")

    def require_account(self) -> str:
        if self.account_id is None:
            raise ACCOUNT_REQUIRED("This needs credentials that belong to an account.")
        return self.account_id
