"""Who is calling: the result of authenticating a request."""

from __future__ import annotations

from dataclasses import dataclass

from kassa.core.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str | None  # None only for platform admins
    livemode: bool
    scopes: frozenset[str]
    actor: str  # "api_key:key_..." or "user:usr_..."
    role: str | None = None
    api_key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(
                f"This key lacks the {scope!r} scope.",
                code="insufficient_scope",
                details={"required_scope": scope},
            )

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise PermissionDenied(
                f"This needs one of the roles: {', '.join(roles)}.", code="insufficient_role"
            )

    def require_account(self) -> str:
        if self.account_id is None:
            raise PermissionDenied(
                "This needs credentials that belong to an account.", code="account_required"
            )
        return self.account_id
