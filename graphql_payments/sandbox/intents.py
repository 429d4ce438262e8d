"""PaymentIntents, their charges, SetupIntents and 3-D Secure.

A PaymentIntent moves through Stripe's statuses:

    requires_payment_method -> requires_confirmation -> requires_action -> processing
        -> requires_capture -> succeeded            (or canceled from any open status)

Confirming runs the chosen test card (see `cards`): a decline creates a failed charge, puts the
intent back in `requires_payment_method` with `last_payment_error`, emits `charge.failed` and
`payment_intent.payment_failed`, and answers 402 with the intent inside the error. A card that
needs 3-D Secure answers `requires_action` with `next_action.redirect_to_url.url` pointing at
the sandbox's hosted `/authenticate/{id}` page (or `Sandbox.complete_authentication`); off
session it declines with `authentication_required` unless the card was saved through an
authenticated SetupIntent. A success creates a charge with a `receipt_url`; with
`capture_method=manual` the funds are held until `capture` (partial captures release the rest)
and the hold lapses seven days after authorization (`payment_method_details.card.
capture_before`): when the sandbox clock passes it, the intent is canceled with
`cancellation_reason="automatic"`. SEPA Direct Debit payments wait in `processing` until the
clock passes the settlement delay, then succeed or fail by test IBAN.

SetupIntents save a card for later: success attaches the PaymentMethod to the customer.
"""

from __future__ import annotations

import uuid
from typing import Any

from graphql_payments.sandbox import balance, connect, disputes
from graphql_payments.sandbox.cards import AUTHENTICATION_REQUIRED, Behaviour, Decline
from graphql_payments.sandbox.currencies import (
    MAXIMUM_AMOUNT,
    SUPPORTED,
    format_amount,
    minimum_amount,
)
from graphql_payments.sandbox.customers import (
    attach_payment_method,
    card_of,
    resolve_payment_method,
)
from graphql_payments.sandbox.errors import (
    JSON,
    SandboxError,
    at_least_one,
    invalid,
    unexpected_state,
)
from graphql_payments.sandbox.state import (
    State,
    apply_metadata,
    client_secret,
    new_id,
    new_metadata,
    snapshot,
    update_object,
)

AUTHORIZATION_WINDOW = 7 * 24 * 3600

OPEN_STATUSES = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = (*OPEN_STATUSES, "requires_capture", "processing")
CAPTURE_METHODS = ("automatic", "automatic_async", "manual")

AUTHENTICATION_FAILURES = {
    "payment_intent": (
        "The PaymentMethod failed 3-D Secure authentication. Confirm the PaymentIntent again with "
        "another PaymentMethod."
    ),
    "setup_intent": (
        "The latest attempt to set up the payment method has failed because authentication failed."
    ),
}

# Per kind of intent: the field holding the last failure, and the event a failed attempt emits.
FAILURES = {
    "payment_intent": ("last_payment_error", "payment_intent.payment_failed"),
    "setup_intent": ("last_setup_error", "setup_intent.setup_failed"),
}


def check_amount(amount: int, currency: str, *, param: str = "amount") -> None:
    if currency not in SUPPORTED:
        raise invalid(f"Invalid currency: {currency}.", param="currency")
    at_least_one(amount, param=param)
    minimum = minimum_amount(currency)
    if amount < minimum:
        raise invalid(
            f"Amount must be at least {format_amount(minimum, currency)}",
            param=param,
            code="amount_too_small",
        )
    if amount > MAXIMUM_AMOUNT:
        raise invalid(
            f"Amount must be no more than {format_amount(MAXIMUM_AMOUNT, currency)}",
            param=param,
            code="amount_too_large",
        )


def _check_descriptor(params: JSON) -> None:
    for key, limit in (("statement_descriptor", 22), ("statement_descriptor_suffix", 22)):
        value = params.get(key)
        if value and len(value) > limit:
            raise invalid(f"The {key} parameter can be at most {limit} characters long.", param=key)


def _payment_method_for(state: State, ref: str, customer: str | None, param: str) -> JSON:
    pm = resolve_payment_method(state, ref, param=param)
    if pm["customer"] is not None and customer is None:
        raise invalid(
            f"PaymentMethod {pm['id']} is attached to a customer; pass that customer in "
            "`customer` to use it.",
            param=param,
        )
    if pm["customer"] is not None and pm["customer"] != customer:
        raise invalid(
            f"The provided PaymentMethod {pm['id']} belongs to another customer.",
            param=param,
        )
    return pm


def _confirming_payment_method(state: State, intent: JSON, params: JSON, missing: str) -> JSON:
    """The PaymentMethod a Payment/SetupIntent is confirmed with; `missing` when it has none."""
    if params.get("payment_method"):
        return _payment_method_for(
            state, params["payment_method"], intent["customer"], "payment_method"
        )
    if intent["payment_method"]:
        return state.get("payment_method", intent["payment_method"], param="payment_method")
    raise unexpected_state(missing, code=f"{intent['object']}_unexpected_state")


def _transfer_data(state: State, value: Any) -> JSON | None:
    if not isinstance(value, dict):
        return None
    destination = str(value.get("destination"))
    state.get("account", destination, param="transfer_data[destination]")
    return {"amount": value.get("amount"), "destination": destination}


# -- payment intents ---------------------------------------------------------------------------


def create_payment_intent(state: State, params: JSON, *, note: JSON | None = None) -> JSON:
    amount: int = params["amount"]
    currency: str = params["currency"].lower()
    check_amount(amount, currency)
    _check_descriptor(params)
    customer_id = params.get("customer")
    if customer_id:
        state.get("customer", customer_id, param="customer")
    if params.get("off_session") is not None and not params.get("confirm"):
        raise invalid(
            "off_session can only be used together with confirm=true.", param="off_session"
        )
    pm = None
    if params.get("payment_method"):
        pm = _payment_method_for(state, params["payment_method"], customer_id, "payment_method")
    transfer_data = _transfer_data(state, params.get("transfer_data"))
    types = list(params.get("payment_method_types") or [])
    automatic = params.get("automatic_payment_methods")
    if not types:
        types = ["card"] if pm is None else [pm["type"]]
    for kind in types:
        if kind not in ("card", "sepa_debit"):
            raise invalid(
                f"The payment method type {kind!r} is not supported by the sandbox.",
                param="payment_method_types",
            )
    pi_id = new_id("pi")
    pi: JSON = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": params.get("application_fee_amount"),
        "automatic_payment_methods": (
            {"allow_redirects": (automatic or {}).get("allow_redirects", "always"), "enabled": True}
            if (automatic or {}).get("enabled") or not params.get("payment_method_types")
            else None
        ),
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": params.get("capture_method", "automatic"),
        "client_secret": client_secret(pi_id),
        "confirmation_method": params.get("confirmation_method", "automatic"),
        "created": state.now(),
        "currency": currency,
        "customer": customer_id,
        "customer_account": None,
        "description": params.get("description"),
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": new_metadata(params.get("metadata")),
        "next_action": None,
        "on_behalf_of": params.get("on_behalf_of"),
        "payment_method": pm["id"] if pm else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": types,
        "processing": None,
        "receipt_email": params.get("receipt_email"),
        "review": None,
        "setup_future_usage": params.get("setup_future_usage"),
        "shipping": params.get("shipping"),
        "source": None,
        "statement_descriptor": params.get("statement_descriptor"),
        "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
        "status": "requires_confirmation" if pm else "requires_payment_method",
        "transfer_data": transfer_data,
        "transfer_group": params.get("transfer_group"),
    }
    state.add(pi, note=note)
    state.emit("payment_intent.created", pi)
    if params.get("confirm"):
        confirm_params: JSON = {
            key: params[key]
            for key in ("off_session", "return_url", "mandate_data", "error_on_requires_action")
            if key in params
        }
        confirm_payment_intent(state, pi, confirm_params)
    return pi


UPDATABLE_ANYTIME = frozenset({"description", "metadata", "receipt_email", "shipping"})


def update_payment_intent(state: State, pi: JSON, params: JSON) -> JSON:
    status = pi["status"]
    for key in params:
        if key not in UPDATABLE_ANYTIME and status not in OPEN_STATUSES:
            raise unexpected_state(
                f"The {key} of this PaymentIntent cannot change now that it is {status}; it "
                "can change while the PaymentIntent is requires_payment_method, "
                "requires_confirmation or requires_action.",
                code="payment_intent_unexpected_state",
                param=key,
            )
    changes = dict(pi)
    changes["metadata"] = dict(pi["metadata"])
    current_currency: str = pi["currency"]
    current_amount: int = pi["amount"]
    currency = str(params.get("currency", current_currency)).lower()
    if "amount" in params or "currency" in params:
        amount: int = params.get("amount", current_amount)
        check_amount(amount, currency)
        changes["amount"] = amount
        changes["currency"] = currency
    _check_descriptor(params)
    if "customer" in params:
        if params["customer"]:
            state.get("customer", params["customer"], param="customer")
        changes["customer"] = params["customer"] or None
    for key in (
        "description",
        "receipt_email",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
        "setup_future_usage",
        "capture_method",
        "application_fee_amount",
        "shipping",
    ):
        if key in params:
            changes[key] = params[key] if params[key] != "" else None
    if "payment_method_types" in params:
        changes["payment_method_types"] = list(params["payment_method_types"])
    if "transfer_data" in params:
        changes["transfer_data"] = _transfer_data(state, params["transfer_data"])
    if "metadata" in params:
        apply_metadata(changes["metadata"], params["metadata"])
    if params.get("payment_method"):
        pm = _payment_method_for(
            state, params["payment_method"], changes["customer"], "payment_method"
        )
        changes["payment_method"] = pm["id"]
        if status == "requires_payment_method":
            changes["status"] = "requires_confirmation"
    pi.update(changes)
    return pi


def _confirm_state_error(pi: JSON) -> SandboxError:
    status = pi["status"]
    if status == "succeeded":
        message = "This PaymentIntent has already succeeded; it cannot be confirmed again."
    else:
        message = (
            f"This PaymentIntent is {status} and cannot be confirmed; only PaymentIntents in "
            "requires_payment_method, requires_confirmation or requires_action can be."
        )
    return unexpected_state(message, code="payment_intent_unexpected_state")


def confirm_payment_intent(
    state: State, pi: JSON, params: JSON, *, on_hosted_page: bool = False
) -> JSON:
    """Attempt the payment. Raises a 402 SandboxError after recording a decline."""
    if pi["status"] not in OPEN_STATUSES:
        raise _confirm_state_error(pi)
    pm = _confirming_payment_method(
        state,
        pi,
        params,
        "This PaymentIntent has no payment method to confirm with; pass `payment_method`.",
    )
    if pm["type"] not in pi["payment_method_types"] and not pi["automatic_payment_methods"]:
        raise invalid(
            f"The PaymentMethod provided ({pm['type']}) is not allowed for this PaymentIntent.",
            param="payment_method",
        )
    for key in ("receipt_email", "setup_future_usage", "capture_method", "shipping"):
        if key in params:
            pi[key] = params[key] or None
    if "return_url" in params:
        state.note(pi["id"])["return_url"] = params["return_url"]
    off_session = bool(params.get("off_session"))
    state.note(pi["id"])["off_session"] = off_session
    pi["payment_method"] = pm["id"]
    if pm["type"] == "sepa_debit":
        _start_debit(state, pi, pm)
        return pi
    card = card_of(state, pm)
    assert card is not None
    authenticated = on_hosted_page or state.note(pi["id"]).get("authenticated", False)
    if card.behaviour is Behaviour.AUTHENTICATE and not authenticated:
        saved_with_authentication = state.note(pm["id"]).get("setup_authenticated", False)
        if off_session and not (saved_with_authentication and card.number == "4000002500003155"):
            _decline(state, pi, pm, AUTHENTICATION_REQUIRED)
        elif not off_session:
            _require_action(state, pi)
            return pi
    if card.behaviour in (Behaviour.DECLINE, Behaviour.DECLINE_ON_CHARGE):
        assert card.decline is not None
        _decline(state, pi, pm, card.decline)
    three_d_secure = card.behaviour is Behaviour.AUTHENTICATE and authenticated
    _succeed(state, pi, pm, three_d_secure=three_d_secure)
    return pi


def _require_action(state: State, intent: JSON) -> None:
    """Send the payer of a Payment/SetupIntent to the hosted 3-D Secure page."""
    before = snapshot(intent)
    intent["status"] = "requires_action"
    intent["next_action"] = {
        "redirect_to_url": {
            "return_url": state.note(intent["id"]).get("return_url"),
            "url": f"{state.public_url}/authenticate/{intent['id']}",
        },
        "type": "redirect_to_url",
    }
    state.emit(f"{intent['object']}.requires_action", intent, before=before)


def _card_details(state: State, pm: JSON, pi: JSON, *, three_d_secure: bool) -> JSON:
    if pm["type"] == "sepa_debit":
        sepa = pm["sepa_debit"]
        return {
            "sepa_debit": {
                "bank_code": sepa["bank_code"],
                "branch_code": sepa["branch_code"],
                "country": sepa["country"],
                "fingerprint": sepa["fingerprint"],
                "last4": sepa["last4"],
                "mandate": new_id("mandate"),
            },
            "type": "sepa_debit",
        }
    card = pm["card"]
    details: JSON = {
        "amount_authorized": pi["amount"],
        "authorization_code": str(uuid.uuid4().int)[:6],
        "brand": card["brand"],
        "checks": dict(card["checks"]),
        "country": card["country"],
        "exp_month": card["exp_month"],
        "exp_year": card["exp_year"],
        "extended_authorization": {"status": "disabled"},
        "fingerprint": card["fingerprint"],
        "funding": card["funding"],
        "incremental_authorization": {"status": "unavailable"},
        "installments": None,
        "last4": card["last4"],
        "mandate": None,
        "multicapture": {"status": "unavailable"},
        "network": card["brand"],
        "network_token": {"used": False},
        "network_transaction_id": str(uuid.uuid4().int)[:15],
        "overcapture": {"maximum_amount_capturable": pi["amount"], "status": "unavailable"},
        "regulated_status": "unregulated",
        "three_d_secure": None,
        "transaction_link_id": None,
        "wallet": None,
    }
    if three_d_secure:
        details["three_d_secure"] = {
            "authentication_flow": "challenge",
            "electronic_commerce_indicator": "05",
            "exemption_indicator": None,
            "result": "authenticated",
            "result_reason": None,
            "transaction_id": str(uuid.uuid4()),
            "version": "2.2.0",
        }
    return {"card": details, "type": "card"}


def _new_charge(
    state: State,
    pi: JSON,
    pm: JSON,
    *,
    status: str,
    decline: Decline | None = None,
    three_d_secure: bool = False,
) -> JSON:
    charge_id = new_id("ch")
    descriptor = pi["statement_descriptor"] or "SANDBOX"
    if pi["statement_descriptor_suffix"]:
        descriptor = f"SANDBOX* {pi['statement_descriptor_suffix']}"
    outcome: JSON
    if decline is None:
        outcome = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 20,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }
    else:
        blocked = decline.outcome_type == "blocked"
        outcome = {
            "advice_code": decline.advice_code,
            "network_advice_code": None,
            "network_decline_code": decline.network_decline_code,
            "network_status": decline.network_status,
            "reason": "highest_risk_level" if blocked else decline.decline_code,
            "risk_level": "highest" if blocked else "normal",
            "risk_score": 95 if blocked else 20,
            "seller_message": (
                "Stripe blocked this payment as too risky."
                if blocked
                else "The bank did not return any further details with this decline."
            ),
            "type": decline.outcome_type,
        }
    charge: JSON = {
        "id": charge_id,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": pi["application_fee_amount"],
        "balance_transaction": None,
        "billing_details": snapshot(pm["billing_details"]),
        "calculated_statement_descriptor": descriptor,
        "captured": False,
        "created": state.now(),
        "currency": pi["currency"],
        "customer": pi["customer"],
        "description": pi["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": decline.code if decline else None,
        "failure_message": decline.message if decline else None,
        "fraud_details": {},
        "livemode": False,
        "metadata": dict(pi["metadata"]),
        "on_behalf_of": pi["on_behalf_of"],
        "outcome": outcome,
        "paid": status == "succeeded",
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": _card_details(state, pm, pi, three_d_secure=three_d_secure),
        "radar_options": {},
        "receipt_email": pi["receipt_email"],
        "receipt_number": None,
        "receipt_url": f"{state.public_url}/receipts/{charge_id}",
        "refunded": False,
        "review": None,
        "shipping": pi["shipping"],
        "source": None,
        "source_transfer": None,
        "statement_descriptor": pi["statement_descriptor"],
        "statement_descriptor_suffix": pi["statement_descriptor_suffix"],
        "status": status,
        "transfer_data": snapshot(pi["transfer_data"]) if pi["transfer_data"] else None,
        "transfer_group": pi["transfer_group"],
    }
    return state.add(charge)


def decline_error(
    decline: Decline,
    *,
    charge: JSON | None,
    payment_method: JSON,
) -> SandboxError:
    extra: JSON = {"payment_method": snapshot(payment_method)}
    if charge is not None:
        extra["charge"] = charge["id"]
    if decline.advice_code is not None:
        extra["advice_code"] = decline.advice_code
    if decline.network_decline_code is not None:
        extra["network_decline_code"] = decline.network_decline_code
    return SandboxError(
        decline.message,
        status=402,
        type="card_error",
        code=decline.code,
        decline_code=decline.decline_code,
        param=decline.param,
        extra=extra,
    )


def _decline(state: State, pi: JSON, pm: JSON, decline: Decline) -> None:
    """Record a declined attempt and raise the 402 Stripe answers with."""
    before = snapshot(pi)
    charge = _new_charge(state, pi, pm, status="failed", decline=decline)
    error = decline_error(decline, charge=charge, payment_method=state.render(pm))
    pi["latest_charge"] = charge["id"]
    state.emit("charge.failed", charge)
    _fail_attempt(state, pi, error, before)
    error.extra["payment_intent"] = state.render(pi)
    raise error


def _fail_attempt(state: State, intent: JSON, error: SandboxError, before: JSON) -> None:
    """A Payment/SetupIntent attempt failed: it wants a new PaymentMethod."""
    error_field, event_type = FAILURES[intent["object"]]
    intent["status"] = "requires_payment_method"
    intent["payment_method"] = None
    intent["next_action"] = None
    intent[error_field] = error.to_dict()
    state.emit(event_type, intent, before=before)


def _fail_authentication(state: State, intent: JSON, pm: JSON) -> None:
    kind = intent["object"]
    error = SandboxError(
        AUTHENTICATION_FAILURES[kind],
        type="invalid_request_error",
        code=f"{kind}_authentication_failure",
        extra={"payment_method": state.render(pm)},
    )
    _fail_attempt(state, intent, error, snapshot(intent))


def _succeed(state: State, pi: JSON, pm: JSON, *, three_d_secure: bool) -> None:
    before = snapshot(pi)
    charge = _new_charge(state, pi, pm, status="succeeded", three_d_secure=three_d_secure)
    pi["latest_charge"] = charge["id"]
    pi["last_payment_error"] = None
    pi["next_action"] = None
    if pi["setup_future_usage"] and pi["customer"] and pm["customer"] is None:
        attach_payment_method(state, pm, pi["customer"])
    if pi["capture_method"] == "manual":
        capture_before = charge["created"] + AUTHORIZATION_WINDOW
        charge["payment_method_details"]["card"]["capture_before"] = capture_before
        pi["status"] = "requires_capture"
        pi["amount_capturable"] = pi["amount"]
        state.schedule(capture_before, "authorization_expiry", pi["id"])
        state.emit("charge.succeeded", charge)
        state.emit("payment_intent.amount_capturable_updated", pi, before=before)
        return
    _capture_charge(state, charge, pi["amount"])
    pi["status"] = "succeeded"
    pi["amount_received"] = pi["amount"]
    state.emit("charge.succeeded", charge)
    state.emit("payment_intent.succeeded", pi, before=before)
    _after_capture(state, pi, charge)


def _capture_charge(state: State, charge: JSON, amount: int) -> None:
    txn = balance.book(
        state,
        type="charge",
        amount=amount,
        currency=charge["currency"],
        source=charge["id"],
        fee=balance.processing_fee(amount, charge["currency"]),
        description=charge["description"],
    )
    charge["captured"] = True
    charge["amount_captured"] = amount
    # Stripe releases the uncaptured remainder and shows it as refunded on the charge.
    charge["amount_refunded"] = charge["amount"] - amount
    charge["balance_transaction"] = txn["id"]


def _after_capture(state: State, pi: JSON, charge: JSON, *, update_session: bool = True) -> None:
    transfer_data = pi["transfer_data"]
    if transfer_data:
        amount = transfer_data.get("amount") or (
            charge["amount_captured"] - (pi["application_fee_amount"] or 0)
        )
        transfer = connect.create_transfer(
            state,
            {
                "amount": amount,
                "currency": charge["currency"],
                "destination": transfer_data["destination"],
                "source_transaction": charge["id"],
                "transfer_group": pi["transfer_group"],
            },
        )
        charge["transfer"] = transfer["id"]
    pm = state.maybe("payment_method", charge["payment_method"])
    card = card_of(state, pm) if pm else None
    if card is not None and card.behaviour is Behaviour.DISPUTE:
        disputes.create_dispute(state, charge, reason="fraudulent")
    if update_session:
        _update_checkout_session(state, pi)


def _update_checkout_session(state: State, pi: JSON, event_type: str | None = None) -> None:
    session = state.maybe("checkout.session", state.note(pi["id"]).get("checkout_session"))
    if session is None or session["status"] != "complete":
        return
    paid = "paid" if pi["status"] == "succeeded" else "unpaid"
    if session["payment_status"] == paid and event_type is None:
        return
    before = snapshot(session)
    session["payment_status"] = paid
    if event_type is not None:
        state.emit(event_type, session, before=before)


def capture_payment_intent(state: State, pi: JSON, params: JSON) -> JSON:
    if pi["status"] != "requires_capture":
        raise unexpected_state(
            f"This PaymentIntent is {pi['status']} and cannot be captured; only PaymentIntents "
            "in requires_capture can be.",
            code="payment_intent_unexpected_state",
        )
    capturable: int = pi["amount_capturable"]
    amount: int = params.get("amount_to_capture", capturable)
    at_least_one(amount, param="amount_to_capture")
    if amount > pi["amount_capturable"]:
        raise invalid(
            f"The amount to capture ({amount}) is greater than the amount capturable "
            f"({pi['amount_capturable']}).",
            param="amount_to_capture",
            code="amount_too_large",
        )
    _check_descriptor(params)
    charge = state.get("charge", pi["latest_charge"])
    before = snapshot(pi)
    charge_before = snapshot(charge)
    if "metadata" in params:
        apply_metadata(pi["metadata"], params["metadata"])
        charge["metadata"] = dict(pi["metadata"])
    for key in ("statement_descriptor", "statement_descriptor_suffix"):
        if key in params:
            pi[key] = charge[key] = params[key]
    _capture_charge(state, charge, amount)
    pi["status"] = "succeeded"
    pi["amount_received"] = amount
    pi["amount_capturable"] = 0
    state.emit("charge.captured", charge, before=charge_before)
    state.emit("payment_intent.succeeded", pi, before=before)
    _after_capture(state, pi, charge)
    return pi


def cancel_payment_intent(state: State, pi: JSON, *, reason: str | None) -> JSON:
    if pi["status"] not in CANCELABLE:
        raise unexpected_state(
            f"This PaymentIntent is {pi['status']} and cannot be canceled; only PaymentIntents "
            f"in {', '.join(CANCELABLE)} can be.",
            code="payment_intent_unexpected_state",
        )
    before = snapshot(pi)
    pi["status"] = "canceled"
    pi["canceled_at"] = state.now()
    pi["cancellation_reason"] = reason
    pi["amount_capturable"] = 0
    pi["next_action"] = None
    state.emit("payment_intent.canceled", pi, before=before)
    return pi


def expire_authorization(state: State, pi_id: str) -> None:
    """The hold of an uncaptured payment lapsed: Stripe cancels the intent itself."""
    pi = state.maybe("payment_intent", pi_id)
    if pi is None or pi["status"] != "requires_capture":
        return
    charge = state.maybe("charge", pi["latest_charge"])
    if charge is not None:
        state.emit("charge.expired", charge)
    cancel_payment_intent(state, pi, reason="automatic")


def _start_debit(state: State, pi: JSON, pm: JSON) -> None:
    before = snapshot(pi)
    charge = _new_charge(state, pi, pm, status="pending")
    pi["status"] = "processing"
    pi["latest_charge"] = charge["id"]
    pi["last_payment_error"] = None
    pi["next_action"] = None
    pi["processing"] = None
    state.schedule(state.now() + state.async_payment_delay, "debit_settlement", pi["id"])
    state.emit("charge.pending", charge)
    state.emit("payment_intent.processing", pi, before=before)


def settle_debit(state: State, pi_id: str) -> None:
    """A delayed (SEPA) payment reaches its outcome, decided by the test IBAN."""
    pi = state.maybe("payment_intent", pi_id)
    if pi is None or pi["status"] != "processing":
        return
    charge = state.get("charge", pi["latest_charge"])
    pm = state.get("payment_method", charge["payment_method"])
    before = snapshot(pi)
    charge_before = snapshot(charge)
    if state.note(pm["id"]).get("settles", True):
        charge["status"] = "succeeded"
        charge["paid"] = True
        charge["outcome"] = _new_outcome_success()
        _capture_charge(state, charge, pi["amount"])
        pi["status"] = "succeeded"
        pi["amount_received"] = pi["amount"]
        state.emit("charge.succeeded", charge, before=charge_before)
        state.emit("payment_intent.succeeded", pi, before=before)
        _update_checkout_session(state, pi, "checkout.session.async_payment_succeeded")
        _after_capture(state, pi, charge, update_session=False)
        return
    decline = Decline(
        "payment_method_provider_decline",
        "insufficient_funds",
        "The customer's bank account could not be charged.",
    )
    charge["status"] = "failed"
    charge["failure_code"] = "insufficient_funds"
    charge["failure_message"] = decline.message
    error = decline_error(decline, charge=charge, payment_method=state.render(pm))
    pi["status"] = "requires_payment_method"
    pi["payment_method"] = None
    pi["last_payment_error"] = {**error.to_dict(), "type": "card_error"}
    state.emit("charge.failed", charge, before=charge_before)
    state.emit("payment_intent.payment_failed", pi, before=before)
    _update_checkout_session(state, pi, "checkout.session.async_payment_failed")


def _new_outcome_success() -> JSON:
    return {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "not_assessed",
        "seller_message": "Payment complete.",
        "type": "authorized",
    }


# -- 3-D Secure --------------------------------------------------------------------------------


def complete_authentication(state: State, intent_id: str, *, succeed: bool) -> JSON:
    """The payer finishes (or fails) the 3-D Secure challenge of a Payment/SetupIntent."""
    kind = "setup_intent" if intent_id.startswith("seti_") else "payment_intent"
    intent = state.get(kind, intent_id)
    if intent["status"] != "requires_action":
        raise unexpected_state(
            f"This {'SetupIntent' if kind == 'setup_intent' else 'PaymentIntent'} does not "
            f"need authentication: its status is {intent['status']}.",
            code=f"{kind}_unexpected_state",
        )
    pm = state.get("payment_method", intent["payment_method"])
    if not succeed:
        _fail_authentication(state, intent, pm)
        return intent
    state.note(intent_id)["authenticated"] = True
    if kind == "setup_intent":
        _setup_succeeded(state, intent, pm, authenticated=True)
    else:
        _succeed(state, intent, pm, three_d_secure=True)
    return intent


def redirect_after_authentication(state: State, intent: JSON) -> str | None:
    """Where the payer goes after the 3-D Secure page, with Stripe's query parameters."""
    return_url = state.note(intent["id"]).get("return_url")
    if not return_url:
        return None
    kind = "setup_intent" if intent["object"] == "setup_intent" else "payment_intent"
    status = "succeeded" if intent["status"] in ("succeeded", "requires_capture") else "failed"
    separator = "&" if "?" in return_url else "?"
    return (
        f"{return_url}{separator}{kind}={intent['id']}"
        f"&{kind}_client_secret={intent['client_secret']}&redirect_status={status}"
    )


# -- setup intents -----------------------------------------------------------------------------


def create_setup_intent(state: State, params: JSON, *, note: JSON | None = None) -> JSON:
    customer_id = params.get("customer")
    if customer_id:
        state.get("customer", customer_id, param="customer")
    pm = None
    if params.get("payment_method"):
        pm = _payment_method_for(state, params["payment_method"], customer_id, "payment_method")
    seti_id = new_id("seti")
    si: JSON = {
        "id": seti_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": None,
        "cancellation_reason": None,
        "client_secret": client_secret(seti_id),
        "created": state.now(),
        "customer": customer_id,
        "description": params.get("description"),
        "excluded_payment_method_types": None,
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": new_metadata(params.get("metadata")),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": pm["id"] if pm else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": list(params.get("payment_method_types") or ["card"]),
        "single_use_mandate": None,
        "status": "requires_confirmation" if pm else "requires_payment_method",
        "usage": params.get("usage", "off_session"),
    }
    state.add(si, note=note)
    state.emit("setup_intent.created", si)
    if params.get("confirm"):
        confirm_setup_intent(state, si, {k: params[k] for k in ("return_url",) if k in params})
    return si


def update_setup_intent(state: State, si: JSON, params: JSON) -> JSON:
    if si["status"] in ("succeeded", "canceled") and set(params) - {"metadata", "description"}:
        raise unexpected_state(
            f"You cannot update this SetupIntent because it has a status of {si['status']}.",
            code="setup_intent_unexpected_state",
        )
    metadata = dict(si["metadata"])
    if "metadata" in params:
        apply_metadata(metadata, params["metadata"])
    if params.get("customer"):
        state.get("customer", params["customer"], param="customer")
        si["customer"] = params["customer"]
    if params.get("payment_method"):
        pm = _payment_method_for(state, params["payment_method"], si["customer"], "payment_method")
        si["payment_method"] = pm["id"]
        if si["status"] == "requires_payment_method":
            si["status"] = "requires_confirmation"
    if "description" in params:
        si["description"] = params["description"] or None
    si["metadata"] = metadata
    return si


def confirm_setup_intent(
    state: State, si: JSON, params: JSON, *, on_hosted_page: bool = False
) -> JSON:
    if si["status"] not in OPEN_STATUSES:
        message = (
            "You cannot confirm this SetupIntent because it has already succeeded."
            if si["status"] == "succeeded"
            else f"You cannot confirm this SetupIntent because it has a status of {si['status']}."
        )
        raise unexpected_state(message, code="setup_intent_unexpected_state")
    pm = _confirming_payment_method(
        state,
        si,
        params,
        "You cannot confirm this SetupIntent because it's missing a payment method.",
    )
    if "return_url" in params:
        state.note(si["id"])["return_url"] = params["return_url"]
    si["payment_method"] = pm["id"]
    card = card_of(state, pm)
    if card is not None and card.behaviour is Behaviour.DECLINE and card.decline is not None:
        before = snapshot(si)
        error = decline_error(card.decline, charge=None, payment_method=state.render(pm))
        si["status"] = "requires_payment_method"
        si["payment_method"] = None
        si["last_setup_error"] = error.to_dict()
        state.emit("setup_intent.setup_failed", si, before=before)
        error.extra["setup_intent"] = state.render(si)
        raise error
    needs_action = card is not None and card.behaviour is Behaviour.AUTHENTICATE
    if needs_action and not on_hosted_page:
        _require_action(state, si)
        return si
    _setup_succeeded(state, si, pm, authenticated=needs_action)
    return si


def _setup_succeeded(state: State, si: JSON, pm: JSON, *, authenticated: bool) -> None:
    before = snapshot(si)
    if authenticated:
        state.note(pm["id"])["setup_authenticated"] = True
    if si["customer"] and pm["customer"] is None:
        attach_payment_method(state, pm, si["customer"])
    si["status"] = "succeeded"
    si["next_action"] = None
    si["last_setup_error"] = None
    si["latest_attempt"] = new_id("setatt")
    state.emit("setup_intent.succeeded", si, before=before)


def cancel_setup_intent(state: State, si: JSON, *, reason: str | None) -> JSON:
    if si["status"] in ("succeeded", "canceled"):
        raise unexpected_state(
            f"You cannot cancel this SetupIntent because it has a status of {si['status']}.",
            code="setup_intent_unexpected_state",
        )
    before = snapshot(si)
    si["status"] = "canceled"
    si["cancellation_reason"] = reason
    si["next_action"] = None
    state.emit("setup_intent.canceled", si, before=before)
    return si


# -- charges -----------------------------------------------------------------------------------


def update_charge(state: State, charge: JSON, params: JSON) -> JSON:
    return update_object(
        state,
        charge,
        params,
        "charge.updated",
        fields=("description", "receipt_email", "transfer_group"),
    )
