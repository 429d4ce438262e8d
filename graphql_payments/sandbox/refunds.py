"""Refunds.

A refund names a `payment_intent` or a `charge` and an optional `amount` (default: all that is
left). It succeeds at once, books a negative balance transaction, raises the charge's
`amount_refunded` (`refunded` turns true when nothing is left) and emits `refund.created` and
`charge.refunded`. What is left to refund is the captured amount less earlier refunds: after a
partial capture the uncaptured remainder already counts in `amount_refunded`, as at Stripe, so
`refunded` turns true when `amount_refunded` reaches the charge's `amount`. Stripe's limits
apply: nothing on an uncaptured or failed payment, nothing left -> `charge_already_refunded`,
more than what is left -> `amount_too_large` on `amount`, and no refund while a dispute is open
or lost (`charge_disputed`).

`Sandbox.fail_refund` plays the bank rejecting a refund later: the refund becomes `failed`
with a `failure_reason`, the amount becomes refundable again, and `refund.failed`,
`refund.updated` and `charge.refund.updated` are emitted.
"""

from __future__ import annotations

from graphql_payments.sandbox import balance, disputes
from graphql_payments.sandbox.cards import fingerprint
from graphql_payments.sandbox.currencies import format_amount
from graphql_payments.sandbox.errors import JSON, at_least_one, invalid, unexpected_state
from graphql_payments.sandbox.state import (
    State,
    net_captured,
    new_id,
    new_metadata,
    snapshot,
    update_object,
)

FAILURE_REASONS = (
    "charge_for_pending_refund_disputed",
    "declined",
    "expired_or_canceled_card",
    "insufficient_funds",
    "lost_or_stolen_card",
    "merchant_request",
    "unknown",
)


def _charge_for(state: State, params: JSON) -> JSON:
    charge_id = params.get("charge")
    pi_id = params.get("payment_intent")
    if not charge_id and not pi_id:
        raise invalid(
            "A refund needs the payment to refund: pass payment_intent or charge.",
            code="parameter_missing",
        )
    if pi_id:
        pi = state.get("payment_intent", pi_id, param="payment_intent")
        if pi["status"] != "succeeded":
            raise unexpected_state(
                f"This PaymentIntent ({pi_id}) does not have a successful charge to refund: "
                f"its status is {pi['status']}."
                + (
                    " Cancel the PaymentIntent to release the authorized funds."
                    if pi["status"] == "requires_capture"
                    else ""
                ),
                code="payment_intent_unexpected_state",
                param="payment_intent",
            )
        charge = state.get("charge", pi["latest_charge"], param="payment_intent")
        if charge_id and charge_id != charge["id"]:
            raise invalid(
                f"The charge {charge_id} does not belong to PaymentIntent {pi_id}.",
                param="charge",
            )
        return charge
    charge = state.get("charge", str(charge_id), param="charge")
    if charge["status"] != "succeeded" or not charge["captured"]:
        raise invalid(
            f"Charge {charge_id} has not been captured, so it cannot be refunded."
            if charge["status"] == "succeeded"
            else f"Charge {charge_id} did not succeed, so it cannot be refunded.",
            param="charge",
            code="charge_not_refundable",
        )
    return charge


def create_refund(state: State, params: JSON) -> JSON:
    charge = _charge_for(state, params)
    left = net_captured(charge)
    if left <= 0:
        raise invalid(
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
        )
    if disputes.blocks_refund(state, charge["id"]):
        raise invalid(
            f"Charge {charge['id']} is disputed, so it cannot be refunded.",
            code="charge_disputed",
        )
    amount = params.get("amount", left)
    at_least_one(amount, param="amount")
    currency = charge["currency"]
    if amount > left:
        raise invalid(
            f"The refund amount ({format_amount(amount, currency)}) is more than what is left "
            f"to refund on the charge ({format_amount(left, currency)}).",
            param="amount",
            code="amount_too_large",
        )
    refund_id = new_id("re")
    txn = balance.book(
        state,
        type="refund",
        amount=-amount,
        currency=currency,
        source=refund_id,
        description="REFUND FOR CHARGE",
    )
    card = charge["payment_method_details"]["type"] == "card"
    refund: JSON = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": txn["id"],
        "charge": charge["id"],
        "created": state.now(),
        "currency": currency,
        "customer": charge["customer"],
        "customer_account": None,
        "destination_details": (
            {
                "card": {
                    "reference": fingerprint(refund_id)[:12].upper(),
                    "reference_status": "available",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            }
            if card
            else {"sepa_debit": {}, "type": "sepa_debit"}
        ),
        "metadata": new_metadata(params.get("metadata")),
        "payment_intent": charge["payment_intent"],
        "payment_method": charge["payment_method"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }
    state.add(refund)
    before = snapshot(charge)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    state.emit("refund.created", refund)
    state.emit("charge.refunded", charge, before=before)
    return refund


def update_refund(state: State, refund: JSON, params: JSON) -> JSON:
    return update_object(state, refund, params, "refund.updated", "charge.refund.updated")


def cancel_refund(state: State, refund: JSON) -> JSON:
    if refund["status"] not in ("pending", "requires_action"):
        raise invalid(
            f"Only pending refunds can be canceled; refund {refund['id']} is {refund['status']}.",
        )
    return refund


def fail_refund(state: State, refund: JSON, *, reason: str) -> JSON:
    if reason not in FAILURE_REASONS:
        raise invalid(
            f"Invalid failure_reason: must be one of {', '.join(FAILURE_REASONS)}",
            param="failure_reason",
        )
    if refund["status"] not in ("succeeded", "pending"):
        raise unexpected_state(
            f"Refund {refund['id']} has status {refund['status']}; only a succeeded or pending "
            "refund can fail.",
            code="refund_unexpected_state",
        )
    charge = state.get("charge", refund["charge"])
    txn = balance.book(
        state,
        type="refund_failure",
        amount=refund["amount"],
        currency=refund["currency"],
        source=refund["id"],
        description="REFUND FAILURE",
    )
    before = snapshot(refund)
    refund["status"] = "failed"
    refund["failure_reason"] = reason
    refund["failure_balance_transaction"] = txn["id"]
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = False
    state.emit("refund.failed", refund, before=before)
    state.emit("refund.updated", refund, before=before)
    state.emit("charge.refund.updated", refund, before=before)
    return refund
