"""Disputes (chargebacks).

Stripe opens disputes from the card network; the sandbox opens them on request
(`Sandbox.create_dispute`, `POST /control/disputes`) or by itself after a successful payment
with the test card 4000 0000 0000 0259. A new dispute is `needs_response`, marks the charge
`disputed`, withdraws the amount plus a 15.00 fee from the balance, and emits
`charge.dispute.created` and `charge.dispute.funds_withdrawn`. Submitting evidence
(`POST /v1/disputes/{id}` with `submit=true`) moves it to `under_review`; accepting it
(`POST /v1/disputes/{id}/close`) loses it. `Sandbox.close_dispute(won=...)` decides it:
`charge.dispute.updated` then `charge.dispute.closed` (and `charge.dispute.funds_reinstated`
when won).
"""

from __future__ import annotations

from graphql_payments.sandbox import balance
from graphql_payments.sandbox.errors import JSON, invalid, unexpected_state
from graphql_payments.sandbox.state import State, net_captured, new_id, snapshot, update_object

DISPUTE_FEE = 1500
EVIDENCE_WINDOW = 7 * 24 * 3600
OPEN = ("warning_needs_response", "warning_under_review", "needs_response", "under_review")

EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)


def create_dispute(
    state: State, charge: JSON, *, amount: int | None = None, reason: str = "fraudulent"
) -> JSON:
    if not charge["captured"] or charge["status"] != "succeeded":
        raise invalid(f"Charge {charge['id']} was not captured, so it cannot be disputed.")
    if any(d["charge"] == charge["id"] for d in state.all("dispute")):
        raise invalid(f"Charge {charge['id']} was disputed already; a charge is disputed once.")
    disputable = net_captured(charge)
    amount = disputable if amount is None else amount
    if not 1 <= amount <= disputable:
        raise invalid("The dispute amount must be between 1 and the amount not refunded.")
    now = state.now()
    dispute_id = new_id("dp")
    txn = balance.book(
        state,
        type="adjustment",
        amount=-amount,
        currency=charge["currency"],
        source=dispute_id,
        fee=DISPUTE_FEE,
        description=f"Chargeback withdrawal for {charge['id']}",
    )
    pm_details = charge["payment_method_details"]
    card = pm_details.get("card") or {}
    dispute: JSON = {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [snapshot(txn)],
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "enhanced_eligibility_types": [],
        "evidence": {field: None for field in EVIDENCE_FIELDS} | {"enhanced_evidence": {}},
        "evidence_details": {
            "due_by": now + EVIDENCE_WINDOW,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "payment_method_details": {
            "card": {
                "brand": card.get("brand"),
                "case_type": "chargeback",
                "network": card.get("network"),
                "network_reason_code": "10.4" if reason == "fraudulent" else "13.1",
            },
            "type": pm_details["type"],
        },
        "reason": reason,
        "status": "needs_response",
    }
    state.add(dispute)
    charge_before = snapshot(charge)
    charge["disputed"] = True
    state.emit("charge.dispute.created", dispute)
    state.emit("charge.dispute.funds_withdrawn", dispute)
    state.emit("charge.updated", charge, before=charge_before)
    return dispute


def update_dispute(state: State, dispute: JSON, params: JSON) -> JSON:
    if dispute["status"] not in OPEN:
        raise unexpected_state(
            f"This dispute is already closed ({dispute['status']}).",
            code="dispute_already_closed",
        )
    return update_object(state, dispute, params, "charge.dispute.updated", also=_add_evidence)


def _add_evidence(dispute: JSON, params: JSON) -> None:
    evidence = params.get("evidence")
    if not isinstance(evidence, dict):
        return
    for key, value in evidence.items():
        if key in dispute["evidence"]:
            dispute["evidence"][key] = value or None
    dispute["evidence_details"]["has_evidence"] = True
    if params.get("submit", True):
        dispute["evidence_details"]["submission_count"] += 1
        dispute["status"] = "under_review"


def close_dispute(state: State, dispute: JSON, *, won: bool) -> JSON:
    if dispute["status"] not in OPEN:
        raise unexpected_state(
            f"This dispute is already closed ({dispute['status']}).",
            code="dispute_already_closed",
        )
    before = snapshot(dispute)
    dispute["status"] = "won" if won else "lost"
    if won:
        txn = balance.book(
            state,
            type="adjustment",
            amount=dispute["amount"],
            currency=dispute["currency"],
            source=dispute["id"],
            description=f"Chargeback reversal for {dispute['charge']}",
        )
        dispute["balance_transactions"].append(snapshot(txn))
    state.emit("charge.dispute.updated", dispute, before=before)
    state.emit("charge.dispute.closed", dispute, before=before)
    if won:
        state.emit("charge.dispute.funds_reinstated", dispute)
    return dispute


def blocks_refund(state: State, charge_id: str) -> bool:
    return any(
        dispute["charge"] == charge_id and dispute["status"] != "won"
        for dispute in state.all("dispute")
    )
