"""What the stand-in gateway knows and does: transactions, customers, vaulted cards, nonces.

Pure logic, no HTTP: each operation returns an ``Answer`` (status, root element, body) and
the transactions it leaves to settle once the answer is out (``auto_settle``: what the
sandbox's settlement batch would do later; ``settle`` does it on demand).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fakes.braintree import render
from tests.fakes.braintree.cards import (
    FAKE_NONCES,
    VISA,
    Card,
    amount_outcome,
    processor_text,
    settlement_declines,
)
from tests.fakes.braintree.records import (
    ACCEPTED,
    Answer,
    Customer,
    StatusEvent,
    Transaction,
    VaultedCard,
    api_error,
    new_id,
    now,
)
from tests.fakes.braintree.xml import Array, Collection


class GatewayState:
    """One merchant's gateway. Thread-safe: the HTTP server answers on many threads."""

    def __init__(
        self,
        merchant_id: str,
        *,
        currencies: tuple[str, ...] = ("USD",),
        auto_settle: bool = True,
        duplicate_window: float = 30.0,
        search_lag: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.merchant_id = merchant_id
        # One merchant account per currency, the first the default (as Braintree sets up).
        self.merchant_accounts = {
            f"{merchant_id}_{code.lower()}": code.upper() for code in currencies
        }
        self.default_account = next(iter(self.merchant_accounts))
        self.auto_settle = auto_settle
        self.duplicate_window = duplicate_window
        self.search_lag = search_lag
        self.clock = clock
        self.lock = threading.RLock()
        self.transactions: dict[str, Transaction] = {}
        self.customers: dict[str, Customer] = {}
        self.vault: dict[str, VaultedCard] = {}
        self.minted: dict[str, Card] = {}  # single-use nonces handed out by mint_nonce
        self.consumed: set[str] = set()
        self.unindexed: set[str] = set()  # ids search does not show yet (beside search_lag)

    # -- nonces and cards ----------------------------------------------------------------
    def mint_nonce(self, card: Card = VISA) -> str:
        """A single-use nonce, as Drop-in or Hosted Fields would hand the browser."""
        nonce = "tokencc_bt_" + new_id(6) + "_" + new_id(6)
        with self.lock:
            self.minted[nonce] = card
        return nonce

    def _resolve_nonce(self, nonce: str, consume: bool) -> tuple[Card | None, Any]:
        """(card, outcome or error tuple)."""
        if nonce in FAKE_NONCES:
            outcome = FAKE_NONCES[nonce]
            return outcome.card, outcome
        if nonce in self.consumed:
            return None, (
                "91564",
                "payment_method_nonce",
                "Cannot use a payment_method_nonce more than once.",
            )
        if nonce in self.minted:
            card = self.minted.pop(nonce) if consume else self.minted[nonce]
            if consume:
                self.consumed.add(nonce)
            return card, None
        return None, ("91565", "payment_method_nonce", "Unknown payment_method_nonce.")

    # -- rendering -----------------------------------------------------------------------
    def transaction_xml(self, tx: Transaction) -> dict[str, Any]:
        return render.transaction_xml(tx, self.merchant_accounts[tx.merchant_account_id])

    def customer_xml(self, customer: Customer) -> dict[str, Any]:
        cards = [self.vault[token] for token in customer.tokens]
        return render.customer_xml(customer, self.merchant_id, cards)

    # -- transactions --------------------------------------------------------------------
    def _amount(self, raw: Any, attribute: str = "amount") -> Decimal | Answer:
        if raw in (None, ""):
            return api_error("Amount is required.", [("81502", attribute, "Amount is required.")])
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            return api_error(
                "Amount is an invalid format.",
                [("81503", attribute, "Amount is an invalid format.")],
            )
        if value <= 0:
            return api_error(
                "Amount must be greater than zero.",
                [("81531", attribute, "Amount must be greater than zero.")],
            )
        return value.quantize(Decimal("0.01"))

    def sale(self, params: dict[str, Any]) -> Answer:
        with self.lock:
            return self._sale(params)

    def _sale(self, params: dict[str, Any]) -> Answer:
        if params.get("type") != "sale":
            return api_error(
                "Type is invalid.", [("91523", "type", "Transaction type is invalid.")]
            )
        amount = self._amount(params.get("amount"))
        if isinstance(amount, Answer):
            return amount
        account = str(params.get("merchant_account_id") or self.default_account)
        if account not in self.merchant_accounts:
            message = "Merchant account ID is invalid."
            return api_error(message, [("91513", "merchant_account_id", message)])
        nonce = params.get("payment_method_nonce")
        token = params.get("payment_method_token")
        outcome: Any = None
        customer_id = None
        if nonce:
            card, outcome = self._resolve_nonce(str(nonce), consume=True)
            if isinstance(outcome, tuple):
                return api_error(outcome[2], [outcome])
            if outcome is not None and outcome.validation is not None:
                return api_error(
                    outcome.validation[2],
                    [outcome.validation],
                    scope=("transaction", "credit_card"),
                )
        elif token:
            vaulted = self.vault.get(str(token))
            if vaulted is None:
                return api_error(
                    "Payment method token is invalid.",
                    [("91518", "payment_method_token", "Payment method token is invalid.")],
                )
            card, customer_id = vaulted.card, vaulted.customer_id
        else:
            return api_error(
                "Cannot determine payment method.",
                [("91508", "base", "Cannot determine payment method.")],
            )
        assert card is not None
        order_id = params.get("order_id") or None
        tx = Transaction(
            id=new_id(),
            type="sale",
            status="authorizing",
            amount=amount,
            card=card,
            order_id=order_id,
            created_at=now(),
            created_clock=self.clock(),
            merchant_account_id=account,
            token=str(token) if token else None,
            customer_id=customer_id,
        )
        if self._is_duplicate(tx):
            tx.rejection = "duplicate"
        elif outcome is not None and outcome.rejection:
            tx.rejection = outcome.rejection
        processor_code = outcome.processor_code if outcome is not None else None
        by_amount, rejected_by_amount = amount_outcome(amount)
        if tx.rejection is None:
            tx.rejection = rejected_by_amount
        self.transactions[tx.id] = tx
        if tx.rejection is not None:
            tx.move("gateway_rejected")
            return api_error(
                f"Gateway Rejected: {tx.rejection}", transaction=self.transaction_xml(tx)
            )
        code = processor_code or by_amount
        if code is not None:
            tx.processor_code = code
            tx.move("failed" if code == "3000" else "processor_declined")
            return api_error(processor_text(code), transaction=self.transaction_xml(tx))
        tx.move("authorized")
        options = params.get("options") or {}
        settle: list[str] = []
        if options.get("submit_for_settlement") is True:
            tx.move("submitted_for_settlement")
            settle = [tx.id] if self.auto_settle else []
        return Answer(201, "transaction", self.transaction_xml(tx), settle)

    def _is_duplicate(self, tx: Transaction) -> bool:
        """Braintree's duplicate transaction checking: same amount, order id and card as an
        accepted sale within the window."""
        if self.duplicate_window <= 0:
            return False
        for other in self.transactions.values():
            if (
                other.type == "sale"
                and other.status in ACCEPTED
                and other.amount == tx.amount
                and other.order_id == tx.order_id
                and other.card.number == tx.card.number
                and tx.created_clock - other.created_clock <= self.duplicate_window
            ):
                return True
        return False

    def find(self, transaction_id: str) -> Answer | None:
        with self.lock:
            tx = self.transactions.get(transaction_id)
            return None if tx is None else Answer(200, "transaction", self.transaction_xml(tx))

    def submit_for_settlement(self, transaction_id: str, params: dict[str, Any]) -> Answer | None:
        with self.lock:
            tx = self.transactions.get(transaction_id)
            if tx is None:
                return None
            if tx.status != "authorized":
                return api_error(
                    "Cannot submit for settlement unless status is authorized.",
                    [
                        (
                            "91507",
                            "base",
                            "Cannot submit for settlement unless status is authorized.",
                        )
                    ],
                )
            amount: Decimal | Answer = tx.amount
            if params.get("amount") not in (None, ""):
                amount = self._amount(params.get("amount"))
            if isinstance(amount, Answer):
                return amount
            if amount > tx.amount:
                return api_error(
                    "Settlement amount is too large.",
                    [("91522", "amount", "Settlement amount is too large.")],
                )
            tx.amount = amount
            tx.move("submitted_for_settlement", amount)
            settle = [tx.id] if self.auto_settle else []
            return Answer(200, "transaction", self.transaction_xml(tx), settle)

    def void(self, transaction_id: str) -> Answer | None:
        with self.lock:
            tx = self.transactions.get(transaction_id)
            if tx is None:
                return None
            if tx.status not in ("authorized", "submitted_for_settlement"):
                message = (
                    "Transaction can only be voided if status is authorized, "
                    "submitted_for_settlement, or - for PayPal - settlement_pending."
                )
                return api_error(message, [("91504", "base", message)])
            tx.move("voided")
            return Answer(200, "transaction", self.transaction_xml(tx))

    def refund(self, transaction_id: str, params: dict[str, Any]) -> Answer | None:
        with self.lock:
            tx = self.transactions.get(transaction_id)
            if tx is None:
                return None
            if tx.type == "credit":
                return api_error(
                    "Cannot refund a credit.", [("91505", "base", "Cannot refund credit")]
                )
            if tx.status not in ("settled", "settling", "settlement_confirmed"):
                message = "Cannot refund transaction unless it is settled."
                return api_error(message, [("91506", "base", message)])
            refunded = sum(
                (
                    self.transactions[r].amount
                    for r in tx.refund_ids
                    if self.transactions[r].status in ACCEPTED
                ),
                Decimal("0"),
            )
            remaining = tx.amount - refunded
            if remaining <= 0:
                message = "Transaction has already been fully refunded."
                return api_error(message, [("91512", "base", message)])
            amount: Decimal | Answer = remaining
            if params.get("amount") not in (None, ""):
                amount = self._amount(params.get("amount"))
            if isinstance(amount, Answer):
                return amount
            if amount > remaining:
                return api_error(
                    "Refund amount is too large.",
                    [("91521", "amount", "Refund amount is too large.")],
                )
            credit = Transaction(
                id=new_id(),
                type="credit",
                status="submitted_for_settlement",
                amount=amount,
                card=tx.card,
                order_id=params.get("order_id") or None,
                created_at=now(),
                created_clock=self.clock(),
                merchant_account_id=tx.merchant_account_id,
                token=tx.token,
                customer_id=tx.customer_id,
                refunded_transaction_id=tx.id,
            )
            credit.history.append(
                StatusEvent("submitted_for_settlement", amount, credit.created_at)
            )
            self.transactions[credit.id] = credit
            tx.refund_ids.append(credit.id)
            tx.updated_at = now()
            settle = [credit.id] if self.auto_settle else []
            return Answer(201, "transaction", self.transaction_xml(credit), settle)

    def settle(self, transaction_id: str, *, decline: bool = False) -> str | None:
        """Run settlement for one transaction: the webhook kind it causes (sales only)."""
        with self.lock:
            tx = self.transactions.get(transaction_id)
            if tx is None or tx.status not in ("submitted_for_settlement", "settling"):
                return None
            code = "4001" if decline else settlement_declines(tx.amount)
            if code is not None and tx.type == "sale":
                tx.settlement_code = code
                tx.move("settlement_declined")
                return "transaction_settlement_declined"
            tx.settlement_code = "4000"
            tx.move("settled")
            return "transaction_settled" if tx.type == "sale" else None

    def merchant_accounts_page(self, page: int) -> Answer:
        """``GET /merchant_accounts/?page=N`` (50 a page)."""
        with self.lock:
            ids = list(self.merchant_accounts)
            accounts = [
                {
                    "id": account_id,
                    "currency_iso_code": self.merchant_accounts[account_id],
                    "status": "active",
                    "default": account_id == self.default_account,
                }
                for account_id in ids[(page - 1) * 50 : page * 50]
            ]
        return Answer(
            200, "merchant_accounts", Collection("merchant_account", accounts, total=len(ids))
        )

    # -- search --------------------------------------------------------------------------
    def search_ids(self, criteria: dict[str, Any]) -> Answer:
        with self.lock:
            cutoff = self.clock() - self.search_lag
            ids = [
                tx.id
                for tx in sorted(self.transactions.values(), key=lambda t: t.created_clock)
                if _matches(tx, criteria)
                and tx.id not in self.unindexed
                and (self.search_lag <= 0 or tx.created_clock <= cutoff)
            ]
        return Answer(200, "search_results", {"page_size": 50, "ids": Array("item", ids)})

    def search(self, criteria: dict[str, Any]) -> list[dict[str, Any]]:
        with self.lock:
            return [
                self.transaction_xml(tx)
                for tx in sorted(self.transactions.values(), key=lambda t: t.created_clock)
                if _matches(tx, criteria)
            ]

    # -- customers and the vault ---------------------------------------------------------
    def create_customer(self, params: dict[str, Any]) -> Answer:
        with self.lock:
            customer_id = str(params.get("id") or new_id(9))
            if customer_id in self.customers:
                return api_error(
                    "Customer ID has already been taken.",
                    [("91609", "id", "Customer ID has already been taken.")],
                    scope=("customer",),
                )
            customer = Customer(customer_id, now())
            nonce = params.get("payment_method_nonce")
            if nonce:
                error = self._vault_nonce(customer, str(nonce), None)
                if error is not None:
                    return error
            self.customers[customer_id] = customer
            return Answer(201, "customer", self.customer_xml(customer))

    def _vault_nonce(self, customer: Customer, nonce: str, token: str | None) -> Answer | None:
        card, outcome = self._resolve_nonce(nonce, consume=True)
        if isinstance(outcome, tuple):
            code = {"91564": "91731", "91565": "91732"}[outcome[0]]
            return api_error(
                outcome[2],
                [(code, "payment_method_nonce", outcome[2])],
                scope=("customer", "credit_card"),
            )
        if outcome is not None and outcome.validation is not None:
            return api_error(
                outcome.validation[2], [outcome.validation], scope=("customer", "credit_card")
            )
        assert card is not None
        token = token or new_id(7)
        if token in self.vault:
            return api_error(
                "Token is in use.",
                [("92906", "token", "Token is in use.")],
                scope=("payment_method",),
            )
        self.vault[token] = VaultedCard(token, card, customer.id, now())
        customer.tokens.append(token)
        return None

    def find_customer(self, customer_id: str) -> Answer | None:
        with self.lock:
            customer = self.customers.get(customer_id)
            return (
                None if customer is None else Answer(200, "customer", self.customer_xml(customer))
            )

    def create_payment_method(self, params: dict[str, Any]) -> Answer:
        with self.lock:
            customer = self.customers.get(str(params.get("customer_id") or ""))
            if customer is None:
                return api_error(
                    "Customer ID is invalid.",
                    [("93105", "customer_id", "Customer ID is invalid.")],
                    scope=("payment_method",),
                )
            token = params.get("token")
            error = self._vault_nonce(
                customer, str(params.get("payment_method_nonce") or ""), token
            )
            if error is not None:
                return error
            return Answer(201, "credit_card", render.vaulted_xml(self.vault[customer.tokens[-1]]))

    def find_payment_method(self, token: str) -> Answer | None:
        with self.lock:
            vaulted = self.vault.get(token)
            return (
                None if vaulted is None else Answer(200, "credit_card", render.vaulted_xml(vaulted))
            )

    # -- disputes ------------------------------------------------------------------------
    def open_dispute(self, transaction_id: str, reason: str = "fraud") -> dict[str, Any]:
        with self.lock:
            tx = self.transactions[transaction_id]
            currency = self.merchant_accounts[tx.merchant_account_id]
            dispute = render.dispute_xml(tx, currency, new_id(), reason, now())
            tx.disputes.append(dispute)
            return dispute


def _text_matches(value: str | None, condition: Any) -> bool:
    if not isinstance(condition, dict):
        return True
    text = value or ""
    checks = {
        "is": lambda c: text == c,
        "is_not": lambda c: text != c,
        "starts_with": lambda c: text.startswith(c),
        "ends_with": lambda c: text.endswith(c),
        "contains": lambda c: c in text,
    }
    return all(checks[op](str(c)) for op, c in condition.items() if op in checks)


def _matches(tx: Transaction, criteria: dict[str, Any]) -> bool:
    for name, condition in criteria.items():
        if name in ("order_id", "id"):
            if not _text_matches(getattr(tx, name), condition):
                return False
        elif name in ("type", "status", "ids"):
            values = condition if isinstance(condition, list) else [condition]
            field_value = tx.id if name == "ids" else getattr(tx, name)
            if field_value not in values:
                return False
    return True
