"""The Braintree adapter: transactions through the official ``braintree`` SDK (4.48).

Registered as the ``braintree`` credentials kind on import: ``merchant_id``, ``public_key``,
``private_key`` (secret), ``environment`` (``sandbox`` | ``production``; production is live
mode) and ``api_base`` (another server speaking Braintree's protocol, for tests).

What kassa's calls become::

    authorize  Transaction.sale(order_id=<key>, options.submit_for_settlement=capture,
               merchant_account_id=<the account in the payment's currency>),
               with ``payment_method_nonce`` (client-side nonces, ``fake-...`` in the sandbox)
               or ``payment_method_token`` (a vaulted method)
    confirm    Transaction.find: nothing waits for the customer (3-D Secure runs in the
               browser before the nonce exists), so the transaction as it stands
    capture    Transaction.submit_for_settlement(id, amount), partial amounts allowed
    cancel     Transaction.void of an ``authorized`` transaction
    refund     Transaction.refund(id, amount, order_id=<key>): partial or whole, of a
               settled transaction; before settlement, Transaction.void of the whole
    retrieve   Transaction.find(id), else TransactionSearch by order id; refunds summed
    create_payment_method
               a nonce is vaulted (Customer.create with a customer id derived from the key);
               a token is looked up (PaymentMethod.find)

Idempotency. Braintree's REST/XML API has no idempotency header (its At-Most-Once
``ApiRequestKey`` is a limited-release GraphQL feature), so the adapter builds it:

- Guaranteed: a sale or refund repeated with the same key *after* the first one is
  searchable returns the first transaction instead of charging or refunding again (the key
  travels as the transaction's ``order_id``; the adapter searches by it first). A sale whose
  answer was lost (timeout: an *ambiguous* ``TransientProviderError``) is found by
  ``retrieve(PaymentLookup(key))`` the same way. The same key with another amount is refused
  (``idempotency_mismatch``). A repeated capture or void answers with the transaction as it
  already stands. Vaulting is idempotent through the derived customer id.
- Not guaranteed: search and create are two calls, not one atomic step. Two calls with the
  same key racing each other, or a retry sent before Braintree's search index shows the
  first transaction (the index can lag a create by seconds), can both reach ``sale``. The
  backstop is Braintree's duplicate transaction checking (on by default, a 30 s window: same
  amount, order id and card): the second sale is gateway-rejected as ``duplicate``, and the
  adapter then answers with the first one (searching again), or with an ambiguous transient
  error (``duplicate_pending``) while the index still does not show it; ``retrieve`` answers
  the same way rather than report a payment "failed" when the only sale it finds for a key
  is such a duplicate rejection. A merchant who turned duplicate checking off
  loses that backstop; kassa itself never runs two calls for one key at once (intent is
  committed before the call). Custom fields are not used: Braintree refuses a sale with a
  custom field not first configured in its Control Panel (so a charge's ``description`` and
  ``metadata`` are not sent either; ``customer_reference`` is not sent, a vaulted token
  already names its customer).
- Braintree refunds only settled transactions (settlement runs about daily). Before that,
  a refund of the whole captured amount voids the capture instead (money never moved; the
  refund's id is then the transaction's, and ``retrieve`` reports the payment succeeded and
  refunded in full); a partial refund is refused (``provider_rejected``, Braintree 91506)
  until the transaction settles.
- Braintree charges in a merchant account's currency (one account per currency): the
  adapter lists the merchant's accounts once and sends each sale to the active one in the
  payment's currency (the default account first), refusing before any charge when there
  is none.

Errors: processor declines, gateway rejections and failures -> ``BraintreeDeclinedError``
(decline code mapped from the processor response code or rejection reason; the raw code,
text and reason are kept on it); validation errors -> ``BraintreeRejectedError`` with a stable
kassa code and Braintree's codes; see ``failures`` for the HTTP and network errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from kassa.providers.base import PayinProvider
from kassa.providers.braintree.gateway import ENVIRONMENTS
from kassa.providers.braintree.provider import BraintreeProvider
from kassa.providers.credentials import Credentials, CredentialsSpec, register_spec


def _livemode(fields: Mapping[str, str]) -> bool:
    return fields.get("environment") == "production"


def build(name: str, credentials: Credentials) -> PayinProvider:
    fields = credentials.fields
    return BraintreeProvider(
        name,
        merchant_id=fields["merchant_id"],
        public_key=fields["public_key"],
        private_key=fields["private_key"],
        environment=fields.get("environment") or "sandbox",
        api_base=fields.get("api_base") or None,
    )


SPEC = CredentialsSpec(
    kind="braintree",
    required=("merchant_id", "public_key", "private_key"),
    optional=("environment", "api_base"),
    secret=("private_key",),
    livemode=_livemode,
    build=build,
    choices={"environment": ENVIRONMENTS},
)
register_spec(SPEC)

__all__ = ["SPEC", "BraintreeProvider", "build"]
