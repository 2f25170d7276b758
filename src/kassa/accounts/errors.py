"""The catalog entries of the codes accounts, keys, users and sign-in raise."""

from __future__ import annotations

from kassa.accounts.login_throttle import LoginLocked
from kassa.core.error_catalog import declare, declare_kind
from kassa.core.errors import AuthenticationFailed, Conflict, PermissionDenied

INVALID_API_KEY = declare(
    "invalid_api_key", AuthenticationFailed, "Not a kassa secret key, or no such key."
)
API_KEY_REVOKED = declare("api_key_revoked", AuthenticationFailed, "The API key was revoked.")
INVALID_TOKEN = declare("invalid_token", AuthenticationFailed, "The session token is invalid.")
TOKEN_EXPIRED = declare("token_expired", AuthenticationFailed, "The session token expired.")
INVALID_CREDENTIALS = declare(
    "invalid_credentials", AuthenticationFailed, "Wrong email or password."
)
INSUFFICIENT_SCOPE = declare(
    "insufficient_scope", PermissionDenied, "The API key lacks a scope this needs (audited)."
)
INSUFFICIENT_ROLE = declare(
    "insufficient_role", PermissionDenied, "The user lacks a role this needs (audited)."
)
ACCOUNT_REQUIRED = declare(
    "account_required", PermissionDenied, "This needs credentials that belong to an account."
)
LIVEMODE_MISMATCH = declare(
    "livemode_mismatch", PermissionDenied, "A key of one mode may not make keys of the other."
)
SCOPE_EXCEEDS_OWN = declare(
    "scope_exceeds_own",
    PermissionDenied,
    "Credentials may not grant, or revoke a key with, scopes they lack.",
)
AFFILIATE_NOT_LINKED = declare(
    "affiliate_not_linked",
    PermissionDenied,
    "An affiliate user must be linked to an affiliate of its account (`kassa user create "
    "--role affiliate --affiliate aff_...`); without one it cannot sign in.",
)
USER_EXISTS = declare("user_exists", Conflict, "A user with this email exists.")
LOGIN_LOCKED = declare_kind(
    LoginLocked,
    "Too many failed sign-ins for this email or address: wait `Retry-After` seconds.",
)
