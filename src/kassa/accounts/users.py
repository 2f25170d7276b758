"""Dashboard users: argon2 passwords, roles, short-lived signed tokens."""

from __future__ import annotations

from datetime import timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.errors import AFFILIATE_NOT_LINKED, INVALID_TOKEN, TOKEN_EXPIRED, USER_EXISTS
from kassa.accounts.models import DEFAULT_SCOPES, ROLES, SCOPES, User
from kassa.accounts.principal import Principal
from kassa.core import audit, clock
from kassa.core.errors import InvalidRequest
from kassa.core.ids import new_id

_hasher = PasswordHasher()
# Admins (operators) may also manage an account's API keys; managers run the account's payments.
# An affiliate holds no scope: it reads only its own payout records, which the payout routes
# let through by its ``affiliate_id`` (kassa.payouts.access), and nothing else of the account.
_ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "admin": SCOPES,
    "manager": DEFAULT_SCOPES,
    "affiliate": (),
}
MIN_PASSWORD = 10


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    role: str,
    account_id: str | None,
    affiliate_id: str | None = None,
) -> User:
    """A dashboard user. An affiliate user is linked to ``affiliate_id``, which the caller
    checks belongs to ``account_id`` (kassa.payouts.access.create_affiliate_user does)."""
    email = normalize_email(email)
    if "@" not in email:
        raise InvalidRequest("That is not an email address.", param="email")
    if role not in ROLES:
        raise InvalidRequest(f"Role must be one of {', '.join(ROLES)}.", param="role")
    if role != "admin" and account_id is None:
        raise InvalidRequest(f"A {role} belongs to an account.", param="account")
    if role == "affiliate" and not affiliate_id:
        raise InvalidRequest(
            "An affiliate user is linked to one affiliate: name it (aff_...).", param="affiliate"
        )
    if role != "affiliate" and affiliate_id:
        raise InvalidRequest("Only an affiliate user is linked to an affiliate.", param="affiliate")
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(
            f"Passwords have at least {MIN_PASSWORD} characters.", param="password"
        )
    if await session.scalar(select(User.id).where(User.email == email)):
        raise USER_EXISTS(f"A user with email {email} exists.")
    user = User(
        id=new_id("usr"),
        account_id=account_id,
        email=email,
        password_hash=_hasher.hash(password),
        role=role,
        affiliate_id=affiliate_id,
        created_at=clock.now(),
    )
    after = {"email": email, "role": role, "affiliate_id": affiliate_id}
    return audit.add_created(session, user, "user", account_id=account_id, after=after)


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def find_active_user(session: AsyncSession, email: str) -> User | None:
    user = await session.scalar(select(User).where(User.email == normalize_email(email)))
    return user if user is not None and user.disabled_at is None else None


def password_matches(user: User | None, password: str) -> bool:
    """Argon2 verification (CPU-bound: run it in a thread). Without a user the password is
    hashed anyway, at the same cost, so timing tells nothing about which emails exist."""
    try:
        if user is None:
            _hasher.hash(password)
            return False
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_token(user: User, *, key: bytes, ttl: timedelta, livemode: bool = False) -> str:
    """A signed token; an affiliate's carries its affiliate and that affiliate's mode
    (``livemode``), every other user's acts on test mode."""
    now = clock.now()
    if user.role == "affiliate" and not user.affiliate_id:
        raise AFFILIATE_NOT_LINKED("This affiliate user is linked to no affiliate.")
    claims: dict[str, object] = {
        "sub": user.id,
        "role": user.role,
        "acct": user.account_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "typ": "user",
    }
    if user.role == "affiliate":
        claims["aff"] = user.affiliate_id
        claims["live"] = livemode
    return jwt.encode(claims, key, algorithm="HS256")


def authenticate_token(token: str, *, key: bytes) -> Principal:
    try:
        # Expiry is checked against kassa's clock below, so tests can move time.
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "role"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise INVALID_TOKEN("Invalid session token.") from exc
    if int(claims["exp"]) < clock.now().timestamp():
        raise TOKEN_EXPIRED("Your session token expired; sign in again.")
    if claims.get("typ") != "user" or claims["role"] not in ROLES:
        raise INVALID_TOKEN("Invalid session token.")
    affiliate = claims.get("aff") if claims["role"] == "affiliate" else None
    if claims["role"] == "affiliate" and (not isinstance(affiliate, str) or not claims.get("acct")):
        raise INVALID_TOKEN("Invalid session token.")
    return Principal(
        account_id=claims.get("acct"),
        livemode=claims.get("live") is True if affiliate else False,
        scopes=frozenset(_ROLE_SCOPES[claims["role"]]),
        actor=f"user:{claims['sub']}",
        role=claims["role"],
        affiliate_id=affiliate,
    )
