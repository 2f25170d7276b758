"""The ``paypal`` credentials spec: what it needs, which field is secret, how the mode and the
API host follow from ``environment``."""

from __future__ import annotations

import pytest

import kassa.providers.paypal  # noqa: F401 - importing it registers the spec
from kassa.providers.credentials import SPECS, Credentials
from kassa.providers.paypal import LIVE, SANDBOX, PayPalProvider

SPEC = SPECS["paypal"]


def test_the_spec_is_registered_on_import() -> None:
    assert SPEC.required == ("client_id", "client_secret")
    assert set(SPEC.optional) == {"webhook_id", "environment", "api_base"}
    assert SPEC.secret == ("client_secret",)


def test_problems_are_named_without_values() -> None:
    found = SPEC.problems({"client_id": "AbC", "environment": "production", "region": "eu"})
    assert found == [
        "client_secret is required",
        "region is not a paypal field",
        "environment is one of sandbox, live",
    ]
    assert not SPEC.problems({"client_id": "AbC", "client_secret": "s", "environment": "live"})


def test_the_environment_decides_mode_and_host() -> None:
    assert SPEC.livemode({"environment": "live"}) and not SPEC.livemode({})
    fields = {"client_id": "id", "client_secret": "secret"}
    for given, host in (({}, SANDBOX), ({"environment": "live"}, LIVE)):
        built = SPEC.build("paypal", Credentials("default", "paypal", False, {**fields, **given}))
        assert isinstance(built, PayPalProvider) and built.client.api_base == host
    tests = {**fields, "environment": "live", "api_base": "http://127.0.0.1:1/"}
    built = SPEC.build("paypal_b", Credentials("pcr_1", "paypal", True, tests))
    assert isinstance(built, PayPalProvider)
    assert built.name == "paypal_b" and built.client.api_base == "http://127.0.0.1:1"
    assert SANDBOX == "https://api-m.sandbox.paypal.com" and LIVE == "https://api-m.paypal.com"


def test_the_install_settings_build_it_or_say_what_is_missing() -> None:
    from pydantic import SecretStr

    from kassa.core.errors import ConfigurationError
    from kassa.core.settings import Settings
    from kassa.providers.paypal import from_settings

    with pytest.raises(ConfigurationError) as info:
        from_settings("paypal", Settings(paypal_client_id="AbC"))
    assert "client_secret is required" in str(info.value)
    built = from_settings(
        "paypal",
        Settings(
            paypal_client_id="AbC",
            paypal_client_secret=SecretStr("s3cret"),
            paypal_environment="live",
        ),
    )
    assert built.client.api_base == LIVE
