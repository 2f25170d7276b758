"""`kassa config check`: what is set, what is missing, and whether it can work.

This module reads the settings only; ``config_probe`` connects to what they point at. Both
report ``Problem``s: a fatal one means kassa cannot work as configured, a warning means it
works but should not run like this in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from kassa.accounts.provider_credentials.display import hint
from kassa.chain.config import chains_of, describe
from kassa.core.errors import ConfigurationError
from kassa.core.private_files import readable_by_others
from kassa.core.redact import mask_credentials
from kassa.core.settings import Settings
from kassa.providers.defaults import default_credentials
from kassa.providers.registry import FACTORIES, kind_of, known_kinds, load_kind, mode_name

# Settings each provider needs before it can be enabled (field names of Settings).
PROVIDER_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "mock": (),
    "rise": ("rise_company_id", "rise_wallet_address", "rise_wallet_private_key"),
}


@dataclass(frozen=True)
class Problem:
    setting: str
    message: str
    fatal: bool = True


def env_name(settings: Settings, field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else field.upper()


def check_settings(settings: Settings) -> list[Problem]:
    problems: list[Problem] = []
    url = settings.effective_database_url
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        problems.append(
            Problem("KASSA_DATABASE_URL", "use sqlite:///path/to.db or postgresql://user@host/db")
        )
    if settings.is_production:
        if settings.secret_key is None:
            problems.append(Problem("KASSA_SECRET_KEY", "required in production"))
        elif len(settings.secret_key.get_secret_value()) < 32:
            problems.append(Problem("KASSA_SECRET_KEY", "use at least 32 random characters"))
        if url.startswith("sqlite"):
            problems.append(
                Problem(
                    "KASSA_DATABASE_URL",
                    "SQLite is for trying kassa out; use PostgreSQL in production",
                    fatal=False,
                )
            )
        problems += development_only(settings)
    problems += _providers(settings)
    problems += _chains(settings)
    problems += _private_files(settings)
    return problems


def _names(value: str) -> list[str]:
    return [n.strip() for n in value.split(",") if n.strip()]


def _named(settings: Settings) -> list[tuple[str, list[str]]]:
    return [
        ("PAYMENT_PROVIDER", [settings.payin_default_provider]),
        ("KASSA_PROVIDER_FAILOVER", _names(settings.provider_failover)),
        ("KASSA_PROVIDERS", _names(settings.providers_enabled)),
    ]


def _enabled(settings: Settings) -> dict[str, str]:
    """Every enabled provider name, with the first setting that names it."""
    found: dict[str, str] = {}
    for setting, names in _named(settings):
        for name in names:
            found.setdefault(name, setting)
    return found


def credentials_env(kind: str, field: str) -> str:
    """The setting of a field of the install's credentials (KASSA_STRIPE_SECRET_KEY)."""
    return f"KASSA_{kind.upper()}_{field.upper()}"


def _needs_credentials(kind: str) -> bool:
    """A kind whose install adapter is built from credentials (not the mock's factory)."""
    return load_kind(kind) is not None and kind not in FACTORIES


def _providers(settings: Settings) -> list[Problem]:
    """Every provider name the registry would build needs an adapter of its kind (``mock_b``
    is a ``mock``); the default provider's kind must also have its settings."""
    problems: list[Problem] = []
    for setting, names in _named(settings):
        for name in names:
            kind = kind_of(name)
            if kind not in FACTORIES and load_kind(kind) is None:
                known = ", ".join(known_kinds())
                problems.append(
                    Problem(setting, f"unknown provider {name!r}; known kinds: {known}")
                )
    problems += _default_credentials(settings)
    payouts = settings.payout_provider
    for field in PROVIDER_REQUIREMENTS.get(payouts.name, ()):
        if getattr(settings, field) in (None, ""):
            problems.append(
                Problem(
                    env_name(settings, field), f"required when payouts go through {payouts.name}"
                )
            )
    return problems


def payout_provider_row(settings: Settings) -> tuple[str, str]:
    """Who pays affiliates, and which setting decided it (decision 0011)."""
    choice = settings.payout_provider
    why = {
        "KASSA_PAYOUT_PROVIDER": "KASSA_PAYOUT_PROVIDER",
        "PAYMENT_PROVIDER": "PAYMENT_PROVIDER=rise, seed 000",
        "RISE_*": "RISE_* credentials are set",
        "default": "default",
    }[choice.chosen_by]
    note = ": moves no money" if choice.name == "mock" else ""
    return ("payout provider", f"{choice.name} ({why}){note}")


def _chains(settings: Settings) -> list[Problem]:
    try:
        chains = chains_of(settings)
    except ConfigurationError as exc:
        return [Problem("KASSA_CHAINS", str(exc))]
    return [
        Problem(f"KASSA_CHAINS ({key})", "no tokens: nothing would be watched", fatal=False)
        for key, chain in chains.items()
        if not chain.tokens
    ]


def _default_credentials(settings: Settings) -> list[Problem]:
    """The install's credentials of each enabled provider that needs some: wrong or
    incomplete ones are fatal (the registry would refuse to use them); none at all is fatal
    for PAYMENT_PROVIDER (every account without its own would be refused) and a warning for
    the others (only accounts with their own can use them)."""
    problems: list[Problem] = []
    defaults = default_credentials(settings)
    for name, setting in _enabled(settings).items():
        kind = kind_of(name)
        spec = load_kind(kind)
        if spec is None or not _needs_credentials(kind):
            continue
        credentials = defaults.get(kind)
        if credentials is None:
            needed = ", ".join(credentials_env(kind, f) for f in spec.required)
            fatal = setting == "PAYMENT_PROVIDER"
            then = (
                "payments of accounts without their own would be refused"
                if fatal
                else "only accounts with their own (POST /v1/provider_credentials) can use it"
            )
            problems.append(
                Problem(
                    setting, f"{name!r} has no default credentials (set {needed}): {then}", fatal
                )
            )
            continue
        for problem in spec.problems(credentials.fields):
            field = problem.split(" ", 1)[0]
            problems.append(
                Problem(
                    credentials_env(kind, field),
                    f"{problem}: the install's {kind} credentials are not used, and {name!r} "
                    "refuses payments of accounts without their own",
                )
            )
    return problems


def provider_rows(settings: Settings) -> list[tuple[str, str]]:
    """Per enabled provider, the install's credentials as `config check` shows them: the
    mode, non-secret fields, hints of secrets, and what is missing."""
    rows: list[tuple[str, str]] = []
    defaults = default_credentials(settings)
    for name in _enabled(settings):
        kind = kind_of(name)
        spec = load_kind(kind)
        credentials = defaults.get(kind)
        if kind in FACTORIES and credentials is None:
            note = ", test mode only" if kind == "mock" else ""
            rows.append((name, f"needs no credentials{note}"))
            continue
        if spec is None:
            rows.append((name, "unknown kind"))
            continue
        if credentials is None:
            rows.append((name, "no default credentials (only accounts' own)"))
            continue
        shown = ", ".join(
            f"{f}={hint(v) if f in spec.secret else mask_credentials(v)}"
            for f, v in sorted(credentials.fields.items())
        )
        missing = [f for f in spec.required if not credentials.fields.get(f)]
        text = f"default credentials, {mode_name(credentials.livemode)} mode: {shown}"
        rows.append((name, text + (f"; missing {', '.join(missing)}" if missing else "")))
    return rows


def development_only(settings: Settings) -> list[Problem]:
    """Warnings for settings that are fine while trying kassa out and wrong in production."""

    def warn(setting: str, message: str) -> Problem:
        return Problem(setting, f"{message} (development only)", fatal=False)

    problems: list[Problem] = []
    if settings.webhook_allow_private:
        problems.append(
            warn(
                "KASSA_WEBHOOK_ALLOW_PRIVATE",
                "webhooks may be sent to loopback and private addresses, so a merchant's "
                "endpoint URL can reach services inside your network",
            )
        )
    for setting, names in (
        ("PAYMENT_PROVIDER", [settings.payin_default_provider]),
        ("KASSA_PROVIDER_FAILOVER", _names(settings.provider_failover)),
        ("KASSA_PROVIDERS", _names(settings.providers_enabled)),
    ):
        mocks = [n for n in names if kind_of(n) == "mock"]
        if mocks:
            problems.append(
                warn(
                    setting,
                    f"{', '.join(repr(m) for m in mocks)}: the mock provider moves no money, "
                    "and live-mode (sk_live_) payments are refused until a real provider is "
                    "configured",
                )
            )
    if settings.payout_provider.name == "mock":
        problems.append(
            warn(
                "KASSA_PAYOUT_PROVIDER",
                "payouts go through the mock payout provider: commissions are marked paid "
                "and no money moves",
            )
        )
    if settings.mock_failure_rate or settings.mock_payment_delay:
        problems.append(warn("MOCK_FAILURE_RATE", "the mock provider simulates failures or delays"))
    if settings.log_level.upper() == "DEBUG":
        problems.append(warn("KASSA_LOG_LEVEL", "DEBUG logs are verbose"))
    if settings.database_echo:
        problems.append(
            warn("KASSA_DATABASE_ECHO", "every SQL statement and its parameters are logged")
        )
    for setting, rate in (
        ("KASSA_RATE_LIMIT_PER_KEY", settings.rate_limit_per_key),
        ("KASSA_RATE_LIMIT_PER_IP", settings.rate_limit_per_ip),
    ):
        if rate == 0:
            problems.append(warn(setting, "0 turns rate limiting off"))
    return problems


def _private_files(settings: Settings) -> list[Problem]:
    """kassa creates var/ and its files private; ones made otherwise (by hand, or by an older
    kassa) are named, since they hold the database and the generated secret key."""
    var = settings.var_dir
    found = [var, *(p for p in sorted(var.glob("*")) if p.is_file())] if var.is_dir() else []
    return [
        Problem(
            "KASSA_VAR_DIR",
            f"{path} can be read by other users: chmod {'700' if path.is_dir() else '600'} {path}",
            fatal=False,
        )
        for path in found
        if readable_by_others(path)
    ]


def shown(value: object, *, url: bool = False) -> str:
    """A setting as `config check` prints it: secrets hidden, URL passwords masked."""
    if isinstance(value, SecretStr):
        return mask_credentials(value.get_secret_value()) if url else "set (hidden)"
    if value in (None, "", []):
        return "(not set)"
    if isinstance(value, list):
        return mask_credentials(", ".join(str(v) for v in value))
    return mask_credentials(str(value))


def summary(settings: Settings) -> list[tuple[str, str]]:
    rows = [
        (env_name(settings, field), shown(getattr(settings, field), url=field.endswith("_url")))
        for field in Settings.model_fields
        if field != "chains"
    ]
    try:
        chains = chains_of(settings)
    except ConfigurationError:
        chains = {}  # reported as a problem
    rows += [(f"chain {key}", describe(chain)) for key, chain in chains.items()] or [
        ("KASSA_CHAINS", "(not set)")
    ]
    rows.append(payout_provider_row(settings))
    rows.append(("database in use", mask_credentials(settings.effective_database_url)))
    return rows
