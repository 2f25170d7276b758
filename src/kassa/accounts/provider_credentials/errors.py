"""The catalog entries of the codes the provider credentials resource raises."""

from __future__ import annotations

from kassa.core.error_catalog import declare
from kassa.core.errors import Conflict, InvalidRequest, PermissionDenied

UNKNOWN_PROVIDER_KIND = declare(
    "unknown_provider_kind", InvalidRequest, "`kind` names no provider kassa has an adapter for."
)
INVALID_PROVIDER_CREDENTIALS = declare(
    "invalid_provider_credentials",
    InvalidRequest,
    "Fields are missing, unknown or not one of their allowed values (`details.problems` names "
    "them; values are never echoed).",
)
PROVIDER_CREDENTIALS_MODE_CHANGE = declare(
    "provider_credentials_mode_change",
    InvalidRequest,
    "An update would turn test credentials into live ones or back: create the other mode's.",
)
PROVIDER_CREDENTIALS_EXIST = declare(
    "provider_credentials_exist",
    Conflict,
    "The account has active credentials of this kind and mode (`details.existing`): update "
    "or delete them.",
)
CREDENTIALS_LIVEMODE_MISMATCH = declare(
    "credentials_livemode_mismatch",
    PermissionDenied,
    "A key of one mode may not manage provider credentials of the other (audited).",
)
