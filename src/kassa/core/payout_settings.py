"""Settings of payouts, and the provider settings named by seed 000 (``PAYMENT_PROVIDER``,
``PAYMENT_BATCH_SIZE``, ``RISE_*``, ``PAYMENT_SCHEDULE_*``): a part of ``Settings``, which
reads them like every other setting (environment, then YAML, then defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings

# Provider names that pay out only: PAYMENT_PROVIDER may name them (seed 000), pay-ins may not.
PAYOUT_ONLY_PROVIDERS = frozenset({"rise"})


def alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


@dataclass(frozen=True, slots=True)
class PayoutProviderChoice:
    name: Literal["mock", "rise"]
    chosen_by: str  # the setting that decided: KASSA_PAYOUT_PROVIDER, PAYMENT_PROVIDER, ...


class PayoutSettings(BaseSettings):
    # -- providers (names from the seed documents) --------------------------------------------
    payment_provider: str = Field("mock", validation_alias=alias("PAYMENT_PROVIDER"))
    payment_batch_size: int = Field(100, ge=1, validation_alias=alias("PAYMENT_BATCH_SIZE"))
    payment_minimum_threshold: str = Field(
        "50.00", validation_alias=alias("PAYMENT_MINIMUM_THRESHOLD")
    )
    rise_environment: Literal["sandbox", "production"] = Field(
        "sandbox", validation_alias=alias("RISE_ENVIRONMENT")
    )
    rise_api_base_url: str | None = Field(None, validation_alias=alias("RISE_API_BASE_URL"))
    rise_api_version: Literal["v1", "v2"] = Field(
        "v2",
        validation_alias=alias("RISE_API_VERSION"),
        description="Rise API flow: v2 (B2B API, default) or v1 (seed 000's /v1 routes).",
    )
    rise_company_id: str | None = Field(None, validation_alias=alias("RISE_COMPANY_ID"))
    rise_wallet_address: str | None = Field(None, validation_alias=alias("RISE_WALLET_ADDRESS"))
    rise_wallet_private_key: SecretStr | None = Field(
        None, validation_alias=alias("RISE_WALLET_PRIVATE_KEY")
    )
    rise_signer_address: str | None = Field(
        None,
        validation_alias=alias("RISE_SIGNER_ADDRESS"),
        description="Rise's webhook signer (x-rise-hash/x-rise-signature scheme).",
    )
    rise_webhook_secret: SecretStr | None = Field(
        None,
        validation_alias=alias("RISE_WEBHOOK_SECRET"),
        description="Secret of Rise's HMAC webhook scheme (x-rise-signature: t=,v1=).",
    )
    rise_manager_email: str | None = Field(
        None,
        validation_alias=alias("RISE_MANAGER_EMAIL"),
        description="Also told of failed payout batches and large pending volume (seed 000).",
    )
    payout_pending_alert_count: int = Field(
        1000,
        ge=1,
        validation_alias=alias("KASSA_PAYOUT_PENDING_ALERT_COUNT"),
        description="Admins are e-mailed (hourly) while an account has more unpaid commissions "
        "than this (seed 000's 'High Commission Volume': pending_commissions > 1000).",
    )
    # -- payouts (seed 000's PAYMENT_SCHEDULE_* names) -------------------------------------------
    payout_provider_setting: Literal["mock", "rise"] | None = Field(
        None,
        validation_alias=alias("KASSA_PAYOUT_PROVIDER"),
        description="Who pays affiliates: mock or rise (unset: rise when PAYMENT_PROVIDER=rise "
        "or RISE_* credentials are set, else mock). Decision 0011.",
    )
    payout_commission_hold_hours: int | None = Field(
        None,
        ge=0,
        validation_alias=alias("KASSA_COMMISSION_HOLD_HOURS"),
        description="Approve pending commissions this long after they were earned (unset: "
        "approval is by hand only).",
    )
    payment_schedule_enabled: bool = Field(
        False, validation_alias=alias("PAYMENT_SCHEDULE_ENABLED")
    )
    payment_schedule_frequency: Literal["daily", "weekly", "monthly"] = Field(
        "monthly", validation_alias=alias("PAYMENT_SCHEDULE_FREQUENCY")
    )
    payment_schedule_daily_time: str = Field(
        "00:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        validation_alias=alias("PAYMENT_SCHEDULE_DAILY_TIME"),
        description="The time of day payouts run (HH:MM in PAYMENT_SCHEDULE_TIMEZONE).",
    )
    payment_schedule_timezone: str = Field(
        "UTC", validation_alias=alias("PAYMENT_SCHEDULE_TIMEZONE")
    )
    payment_schedule_weekday: int = Field(
        0,
        ge=0,
        le=6,
        validation_alias=alias("PAYMENT_SCHEDULE_WEEKDAY"),
        description="Weekly runs: 0 is Monday.",
    )
    payment_schedule_month_day: int = Field(
        1, ge=1, le=28, validation_alias=alias("PAYMENT_SCHEDULE_MONTH_DAY")
    )
    payment_schedule_holidays: str = Field(
        "",
        validation_alias=alias("PAYMENT_SCHEDULE_HOLIDAYS"),
        description="Comma-separated dates (YYYY-MM-DD, local to the schedule) with no run.",
    )
    payment_schedule_grace_minutes: int = Field(
        60,
        ge=1,
        validation_alias=alias("PAYMENT_SCHEDULE_GRACE_MINUTES"),
        description="A slot is run this long after its time at the latest (after downtime, "
        "the next slot pays what is due).",
    )

    @property
    def payout_provider(self) -> PayoutProviderChoice:
        """The payout provider and the setting that chose it (decision 0011)."""
        if self.payout_provider_setting is not None:
            return PayoutProviderChoice(self.payout_provider_setting, "KASSA_PAYOUT_PROVIDER")
        if self.payment_provider == "rise":  # seed 000's one switch: mock | rise
            return PayoutProviderChoice("rise", "PAYMENT_PROVIDER")
        if self.rise_company_id or self.rise_wallet_address or self.rise_wallet_private_key:
            # configured for Rise: never pay by mock (commissions "paid", no money moved)
            return PayoutProviderChoice("rise", "RISE_*")
        return PayoutProviderChoice("mock", "default")
