"""The ``stripe`` credentials kind: what it needs, what is secret, how the mode is told, and
the adapter it builds."""

from __future__ import annotations

import kassa.providers.stripe  # noqa: F401 - registers the kind
from kassa.providers.credentials import SPECS, Credentials
from kassa.providers.stripe import StripeProvider


def test_the_kind_is_registered_on_import() -> None:
    spec = SPECS["stripe"]
    assert spec.required == ("secret_key",)
    assert set(spec.optional) == {"webhook_secret", "api_base"}
    assert set(spec.secret) == {"secret_key", "webhook_secret"}


def test_the_mode_follows_the_key() -> None:
    spec = SPECS["stripe"]
    assert spec.livemode({"secret_key": "sk_live_abc"})
    assert spec.livemode({"secret_key": "rk_live_abc"})
    assert not spec.livemode({"secret_key": "sk_test_abc"})
    assert not spec.livemode({"secret_key": "rk_test_abc"})


def test_problems_name_fields_never_values() -> None:
    problems = SPECS["stripe"].problems({"webhook_secret": "whsec_secret_value", "colour": "x"})
    assert problems == ["secret_key is required", "colour is not a stripe field"]
    assert not any("whsec_secret_value" in problem for problem in problems)


def test_build_makes_an_adapter_for_the_api_base() -> None:
    credentials = Credentials(
        "pcr_1",
        "stripe",
        livemode=False,
        fields={
            "secret_key": "sk_test_abc",
            "api_base": "http://127.0.0.1:9999/",
            "webhook_secret": "whsec_old, whsec_new",
        },
        account_id="acct_1",
    )
    adapter = SPECS["stripe"].build("stripe_pcr_1", credentials)
    assert isinstance(adapter, StripeProvider)
    assert adapter.name == "stripe_pcr_1" and adapter.api_base == "http://127.0.0.1:9999"
    assert adapter.webhook_secrets == ("whsec_old", "whsec_new")
    assert not adapter.livemode
    assert "sk_test_abc" not in repr(adapter)


def test_without_api_base_it_is_stripes() -> None:
    adapter = SPECS["stripe"].build(
        "stripe",
        Credentials("default", "stripe", livemode=True, fields={"secret_key": "sk_live_x"}),
    )
    assert isinstance(adapter, StripeProvider)
    assert adapter.api_base == "https://api.stripe.com" and adapter.livemode
