"""Dashboard users: argon2 passwords, roles, short-lived signed tokens."""

from __future__ import annotations

from datetime import timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kassa.accounts.models import ROLES, SCOPES, User
from kassa.accounts.principal import Principal
from kassa.core import audit, clock
from kassa.core.errors import AuthenticationFailed, Conflict, InvalidRequest
from kassa.core.ids import new_id

_hasher = PasswordHasher()
_ROLE_SCOPES = {"admin": SCOPES, "manager": SCOPES, "affiliate": ("read",)}
MIN_PASSWORD = 10


async def create_user(
    session: AsyncSession, *, email: str, password: str, role: str, account_id: str | None
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidRequest("That is not an email address.", param="email")
    if role not in ROLES:
        raise InvalidRequest(f"Role must be one of {', '.join(ROLES)}.", param="role")
    if role != "admin" and account_id is None:
        raise InvalidRequest(f"A {role} belongs to an account.", param="account")
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(
            f"Passwords have at least {MIN_PASSWORD} characters.", param="password"
        )
    if await session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"A user with email {email} exists.", code="user_exists")
    user = User(
        id=new_id("usr"),
        account_id=account_id,
        email=email,
        password_hash=_hasher.hash(password),
        role=role,
        created_at=clock.now(),
    )
    session.add(user)
    audit.record(
        session,
        action="user.create",
        object_type="user",
        object_id=user.id,
        account_id=account_id,
        after={"email": email, "role": role},
    )
    return user


async def authenticate_password(session: AsyncSession, *, email: str, password: str) -> User:
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        if user is None or user.disabled_at is not None:
            _hasher.hash(password)  # same cost either way, so timing tells nothing
            raise VerificationError
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        raise AuthenticationFailed("Wrong email or password.", code="invalid_credentials") from exc
    return user


def issue_token(user: User, *, key: bytes, ttl: timedelta) -> str:
    now = clock.now()
    claims = {
        "sub": user.id,
        "role": user.role,
        "acct": user.account_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "typ": "user",
    }
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
        raise AuthenticationFailed("Invalid session token.", code="invalid_token") from exc
    if int(claims["exp"]) < clock.now().timestamp():
        raise AuthenticationFailed(
            "Your session token expired; sign in again.", code="token_expired"
        )
    if claims.get("typ") != "user" or claims["role"] not in ROLES:
        raise AuthenticationFailed("Invalid session token.", code="invalid_token")
    return Principal(
        account_id=claims.get("acct"),
        livemode=False,
        scopes=frozenset(_ROLE_SCOPES[claims["role"]]),
        actor=f"user:{claims['sub']}",
        role=claims["role"],
    )
