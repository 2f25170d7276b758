"""`kassa config check`: what is set, what is missing, and whether it can work."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr

from kassa.core.settings import Settings

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
        if settings.payment_provider.split("_", 1)[0] == "mock":
            problems.append(
                Problem(
                    "PAYMENT_PROVIDER",
                    "the mock provider moves no money: live-mode (sk_live_) payments are "
                    "refused until a real provider is configured",
                    fatal=False,
                )
            )
        if url.startswith("sqlite"):
            problems.append(
                Problem(
                    "KASSA_DATABASE_URL",
                    "SQLite is for trying kassa out; use PostgreSQL in production",
                    fatal=False,
                )
            )
    provider = settings.payment_provider.split("_", 1)[0]  # its kind: mock_b is a mock
    if provider not in PROVIDER_REQUIREMENTS:
        problems.append(
            Problem(
                "PAYMENT_PROVIDER",
                f"unknown provider {provider!r}; known: {', '.join(sorted(PROVIDER_REQUIREMENTS))}",
            )
        )
    else:
        for field in PROVIDER_REQUIREMENTS[provider]:
            if getattr(settings, field) in (None, ""):
                problems.append(
                    Problem(env_name(settings, field), f"required when PAYMENT_PROVIDER={provider}")
                )
    return problems


def summary(settings: Settings) -> list[tuple[str, str]]:
    rows = []
    for field in Settings.model_fields:
        value = getattr(settings, field)
        if isinstance(value, SecretStr):
            shown = "set (hidden)"
        elif value in (None, "", []):
            shown = "(not set)"
        else:
            shown = str(value)
        rows.append((env_name(settings, field), shown))
    rows.append(("database in use", settings.effective_database_url.split("@")[-1]))
    return rows
