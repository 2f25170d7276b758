"""What the stand-in's PaymentIntents, Charges and Refunds endpoints do, with Stripe's
states, rules and errors (store.py holds the records and the rest)."""

from __future__ import annotations

import contextlib
import copy
import re
import time
from dataclasses import dataclass
from typing import Any

from tests.fakes.stripe import objects
from tests.fakes.stripe.cards import TestCard
from tests.fakes.stripe.store import Fail, Request, Store, flag, int_param, invalid, missing

THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
CANCELABLE = {
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
}
REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


@dataclass
class StripeState(Store):
    # -- payment intents --------------------------------------------------------------------
    def intent(self, intent_id: str) -> dict[str, Any]:
        if intent_id not in self.intents:
            raise missing("payment_intent", intent_id)
        return self.intents[intent_id]

    @staticmethod
    def _check_amount(amount: int, currency: str, param: str = "amount") -> None:
        if amount < 1:
            raise invalid("This value must be greater than or equal to 1.", param=param)
        if currency in THREE_DECIMAL and amount % 10:
            raise invalid(
                f"Invalid amount. {currency.upper()} amounts must end in 0.",
                param=param,
                code="invalid_amount",
            )
        if currency == "isk" and amount % 100:
            raise invalid(
                "Invalid amount. Currency ISK has become effectively zero-decimal and charged "
                "amounts must be evenly divisible by 100.",
                param=param,
                code="invalid_charge_amount_no_decimal_compatible",
            )

    def create_intent(self, params: dict[str, Any], ctx: Request) -> dict[str, Any]:
        amount = int_param(params, "amount", required=True)
        assert amount is not None
        currency = str(params.get("currency") or "")
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise invalid(f"Invalid currency: {currency}.", param="currency")
        self._check_amount(amount, currency)
        if params.get("capture_method", "automatic") not in (
            "automatic",
            "automatic_async",
            "manual",
        ):
            raise invalid("Invalid capture_method.", param="capture_method")
        confirm = flag(params, "confirm")
        automatic = not params.get("payment_method_types")
        redirects = (params.get("automatic_payment_methods") or {}).get("allow_redirects")
        if (
            confirm
            and automatic
            and not params.get("return_url")
            and redirects != "never"
            and not flag(params, "off_session")
        ):
            raise invalid(
                "This PaymentIntent is configured to accept payment methods enabled in your "
                "Dashboard. Because some of these payment methods might redirect your customer "
                "off of your page, you must provide a `return_url`. If you don't want to accept "
                "redirect-based payment methods, set `automatic_payment_methods[enabled]` to "
                "`true` and `automatic_payment_methods[allow_redirects]` to `never`."
            )
        customer_id = params.get("customer")
        if customer_id and customer_id not in self.customers:
            raise missing("customer", customer_id, "customer")
        method = None
        if params.get("payment_method"):
            method = self._method(params["payment_method"])
            self._check_usable(method, customer_id)
        if confirm and method is None:
            raise invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        found = objects.payment_intent(params, amount=amount, livemode=self.livemode)
        self.intents[found["id"]] = found
        self.created_at[found["id"]] = time.time()
        self._emit(ctx, "payment_intent.created", found)
        if method is not None:
            found["payment_method"] = method["id"]
            found["status"] = "requires_confirmation"
        if confirm:
            self._confirm(found, ctx, params.get("return_url"))
        return found

    def _check_usable(self, method: dict[str, Any], customer_id: str | None) -> None:
        if method["id"] in self.used_once:
            raise invalid(
                "The provided PaymentMethod was previously used with a PaymentIntent without "
                "Customer attachment, shared with a connected account without Customer "
                "attachment, or was detached from a Customer. It may not be used again. To use "
                "a PaymentMethod multiple times, you must attach it to a Customer first.",
                param="payment_method",
            )
        if method["customer"] is not None and method["customer"] != customer_id:
            raise invalid(
                "The provided PaymentMethod belongs to a Customer; pass that Customer as "
                "`customer` to use it.",
                param="payment_method",
            )

    def confirm_intent(
        self, intent_id: str, params: dict[str, Any], ctx: Request
    ) -> dict[str, Any]:
        found = self.intent(intent_id)
        if params.get("payment_method"):
            method = self._method(params["payment_method"])
            self._check_usable(method, found["customer"])
            found["payment_method"] = method["id"]
        if found["status"] not in ("requires_confirmation", "requires_payment_method"):
            raise invalid(
                f"This PaymentIntent's status is {found['status']}; it cannot be confirmed.",
                code="payment_intent_unexpected_state",
            )
        if found["payment_method"] is None:
            raise invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        self._confirm(found, ctx, params.get("return_url"))
        return found

    def _confirm(self, found: dict[str, Any], ctx: Request, return_url: str | None) -> None:
        method_id = found["payment_method"]
        if self.payment_methods[method_id]["customer"] is None:
            self.used_once.add(method_id)
        card = self.cards[method_id]
        found["last_payment_error"] = None
        if card.three_d_secure and found["id"] not in self.three_ds_done:
            found["status"] = "requires_action"
            if return_url:
                found["next_action"] = {
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "return_url": return_url,
                        "url": f"{ctx.base_url}/_3ds/{found['id']}",
                    },
                }
            else:
                found["next_action"] = {
                    "type": "use_stripe_sdk",
                    "use_stripe_sdk": {
                        "type": "three_d_secure_redirect",
                        "stripe_js": f"{ctx.base_url}/_3ds/{found['id']}",
                        "source": objects.new_id("src"),
                    },
                }
            self._emit(ctx, "payment_intent.requires_action", found)
            return
        self._authorize(found, card, ctx)

    def _authorize(self, found: dict[str, Any], card: TestCard, ctx: Request | None) -> None:
        method = self.payment_methods[found["payment_method"]]
        manual = found["capture_method"] == "manual"
        made = objects.charge(found, method, captured=not manual and card.error_code is None)
        self.charges[made["id"]] = made
        found["latest_charge"] = made["id"]
        found["next_action"] = None
        if card.error_code is not None:
            error = {
                "charge": made["id"],
                "code": card.error_code,
                "decline_code": card.decline_code,
                "advice_code": card.advice_code,
                "network_decline_code": card.network_decline_code,
                "doc_url": f"https://stripe.com/docs/error-codes/{card.error_code.replace('_', '-')}",
                "message": card.message,
                "payment_method": copy.deepcopy(method),
                "type": "card_error",
            }
            made.update(
                status="failed",
                paid=False,
                captured=False,
                amount_captured=0,
                balance_transaction=None,
                failure_code=card.error_code,
                failure_message=card.message,
            )
            made["outcome"].update(
                type="issuer_declined",
                reason=card.decline_code,
                network_status="declined_by_network",
                seller_message="The bank did not return any further details with this decline.",
                advice_code=card.advice_code,
                network_decline_code=card.network_decline_code,
            )
            found["status"] = "requires_payment_method"
            found["last_payment_error"] = error
            self._emit(ctx, "charge.failed", made)
            self._emit(ctx, "payment_intent.payment_failed", found)
            raise Fail(402, {**error, "payment_intent": copy.deepcopy(found)}, stored=True)
        if manual:
            found["status"] = "requires_capture"
            found["amount_capturable"] = found["amount"]
            self._emit(ctx, "charge.succeeded", made)
            self._emit(ctx, "payment_intent.amount_capturable_updated", found)
        else:
            found["status"] = "succeeded"
            found["amount_received"] = found["amount"]
            self._emit(ctx, "charge.succeeded", made)
            self._emit(ctx, "payment_intent.succeeded", found)

    def finish_three_d_secure(self, intent_id: str, *, success: bool) -> dict[str, Any]:
        """The customer completes (or fails) the issuer's challenge."""
        found = self.intent(intent_id)
        if found["status"] != "requires_action":
            raise invalid(f"PaymentIntent {intent_id} is not waiting for authentication.")
        self.three_ds_done.add(intent_id)
        if success:
            # Declined after authentication: the intent and its events say so.
            with contextlib.suppress(Fail):
                self._authorize(found, self.cards[found["payment_method"]], None)
            return found
        found["status"] = "requires_payment_method"
        found["next_action"] = None
        found["last_payment_error"] = {
            "code": "payment_intent_authentication_failure",
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
            "message": "The provided PaymentMethod has failed authentication. You can provide "
            "payment_method_data or a new PaymentMethod to attempt to fulfill this "
            "PaymentIntent again.",
            "payment_method": copy.deepcopy(self.payment_methods[found["payment_method"]]),
            "type": "invalid_request_error",
        }
        self._emit(None, "payment_intent.payment_failed", found)
        return found

    def capture(self, intent_id: str, params: dict[str, Any], ctx: Request) -> dict[str, Any]:
        found = self.intent(intent_id)
        if found["status"] != "requires_capture":
            raise invalid(
                "This PaymentIntent could not be captured because it has a status of "
                f"{found['status']}. Only a PaymentIntent with one of the following statuses "
                "may be captured: requires_capture.",
                code="payment_intent_unexpected_state",
            )
        amount = int_param(params, "amount_to_capture")
        amount = found["amount_capturable"] if amount is None else amount
        self._check_amount(amount, found["currency"], "amount_to_capture")
        if amount > found["amount_capturable"]:
            raise invalid(
                "The amount to capture is greater than the amount capturable.",
                param="amount_to_capture",
                code="amount_too_large",
            )
        made = self.charges[found["latest_charge"]]
        made.update(
            captured=True, amount_captured=amount, balance_transaction=objects.new_id("txn")
        )
        if amount < made["amount"]:  # the rest of the authorization is released
            made["amount_refunded"] = made["amount"] - amount
        found.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self._emit(ctx, "charge.captured", made)
        self._emit(ctx, "payment_intent.succeeded", found)
        return found

    def cancel(self, intent_id: str, params: dict[str, Any], ctx: Request) -> dict[str, Any]:
        found = self.intent(intent_id)
        if found["status"] not in CANCELABLE:
            raise invalid(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{found['status']}. Only a PaymentIntent with one of the following statuses "
                f"may be canceled: {', '.join(sorted(CANCELABLE))}.",
                code="payment_intent_unexpected_state",
            )
        if found["status"] == "requires_capture":
            made = self.charges[found["latest_charge"]]
            made.update(refunded=True, amount_refunded=made["amount"])
        found.update(
            status="canceled",
            canceled_at=objects.now(),
            cancellation_reason=params.get("cancellation_reason"),
            amount_capturable=0,
            next_action=None,
        )
        self._emit(ctx, "payment_intent.canceled", found)
        return found

    def search(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        query = str(params.get("query") or "")
        clause = re.fullmatch(r"\s*metadata\[(['\"])(.+?)\1\]\s*:\s*(['\"])(.*)\3\s*", query)
        if clause is None:
            raise invalid(
                f"We were unable to parse your search query. Query: {query}",
                param="query",
                code="parameter_invalid_string",
            )
        key, value = clause.group(2), clause.group(4).replace("\\'", "'").replace('\\"', '"')
        visible_before = time.time() - self.search_lag
        return [
            intent
            for intent_id, intent in reversed(self.intents.items())
            if intent["metadata"].get(key) == value and self.created_at[intent_id] <= visible_before
        ]

    def list_intents(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        limit = int_param(params, "limit") or 10
        created = params.get("created") if isinstance(params.get("created"), dict) else {}
        bounds = {op: int(value) for op, value in created.items()}
        rows = sorted(self.intents.values(), key=lambda i: (i["created"], i["id"]), reverse=True)
        rows = [
            row
            for row in rows
            if row["created"] >= bounds.get("gte", row["created"])
            and row["created"] > bounds.get("gt", row["created"] - 1)
            and row["created"] <= bounds.get("lte", row["created"])
        ]
        after = params.get("starting_after")
        if after:
            ids = [row["id"] for row in rows]
            rows = rows[ids.index(after) + 1 :] if after in ids else []
        return rows[:limit], len(rows) > limit

    # -- refunds ------------------------------------------------------------------------------
    def create_refund(self, params: dict[str, Any], ctx: Request) -> dict[str, Any]:
        reason = params.get("reason")
        if reason is not None and reason not in REFUND_REASONS:
            raise invalid(
                f"Invalid reason: must be one of {', '.join(sorted(REFUND_REASONS))}",
                param="reason",
            )
        if params.get("payment_intent"):
            found = self.intents.get(params["payment_intent"])
            if found is None:
                raise missing("payment_intent", params["payment_intent"], "payment_intent")
            charge_id = found["latest_charge"]
        elif params.get("charge"):
            charge_id = params["charge"]
            if charge_id not in self.charges:
                raise missing("charge", charge_id, "charge")
        else:
            raise invalid(
                "One of the following params should be provided for this request: payment_intent or charge."
            )
        made = self.charges.get(charge_id) if charge_id else None
        if made is None or not made["captured"]:
            raise invalid(
                "This PaymentIntent does not have a successful charge to refund.",
                code="charge_not_refundable" if made is None else "charge_not_captured",
            )
        left = made["amount"] - made["amount_refunded"]
        amount = int_param(params, "amount")
        amount = left if amount is None else amount
        self._check_amount(amount, made["currency"])
        if left <= 0:
            raise invalid(
                f"Charge {made['id']} has already been refunded.", code="charge_already_refunded"
            )
        if amount > left:
            raise invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                param="amount",
                code="amount_too_large",
            )
        made_refund = objects.refund(made, amount=amount, params=params)
        self.refunds[made_refund["id"]] = made_refund
        made["amount_refunded"] += amount
        made["refunded"] = made["amount_refunded"] >= made["amount"]
        made["refunds"]["data"].insert(0, made_refund)
        self._emit(ctx, "refund.created", made_refund)
        self._emit(ctx, "charge.refunded", made)
        return made_refund

    # -- disputes (the cardholder's bank, not an API call) ------------------------------------
    def open_dispute(self, intent_id: str, reason: str = "fraudulent") -> dict[str, Any]:
        found = self.intent(intent_id)
        made = self.charges.get(found["latest_charge"] or "")
        if made is None or not made["captured"]:
            raise invalid(f"PaymentIntent {intent_id} has no captured charge to dispute.")
        opened = objects.dispute(made, reason=reason)
        self.disputes[opened["id"]] = opened
        made["disputed"] = True
        self._emit(None, "charge.dispute.created", opened)
        return opened

    def close_dispute(self, dispute_id: str, *, won: bool) -> dict[str, Any]:
        found = self.retrieve(self.disputes, "dispute", dispute_id)
        found["status"] = "won" if won else "lost"
        self._emit(None, "charge.dispute.closed", found)
        return found
