"""The Braintree adapter against the Braintree stand-in, as the contract sees it.

The stand-in settles what is submitted for settlement at once (the sandbox's settlement
batch, run early), so the contract's refund after a capture finds a settled transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kassa.providers.braintree import SPEC
from kassa.providers.credentials import Credentials
from tests.fakes.braintree import FakeBraintree
from tests.providers.contract.subject import Subject


@asynccontextmanager
async def subject() -> AsyncIterator[Subject]:
    fake = FakeBraintree()
    with fake.running():
        credentials = Credentials(
            "pcr_contract",
            "braintree",
            livemode=False,
            fields={
                "merchant_id": fake.merchant_id,
                "public_key": fake.public_key,
                "private_key": fake.private_key,
                "environment": "sandbox",
                "api_base": fake.url,
            },
        )
        yield Subject(
            provider=SPEC.build("braintree_contract", credentials),
            card="fake-valid-visa-nonce",
            declined="fake-processor-declined-visa-nonce",
            decline_code="do_not_honor",
        )
