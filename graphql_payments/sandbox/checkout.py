"""Checkout Sessions and the payments made on the hosted checkout page.

`POST /v1/checkout/sessions` in `payment` mode takes `line_items` with `price_data` (currency,
`unit_amount`, `product_data[name]`) and a `quantity`; `setup` mode saves a card for later.
The session's `url` is the sandbox's hosted page (`{public_url}/checkout/{id}`), where a
person picks a test card and pays or cancels; tests do the same with
`Sandbox.pay_checkout_session` / `cancel_checkout_session`.

Paying in `payment` mode creates the PaymentIntent (carrying `payment_intent_data`: metadata,
description, capture method, ...) and confirms it with the chosen card. A 3-D Secure card
counts as authenticated by the person on the page.

- Success: `charge.succeeded`, `payment_intent.succeeded` (or
  `payment_intent.amount_capturable_updated` with manual capture) then
  `checkout.session.completed`; the session is `complete`, `payment_status` `paid` (`unpaid`
  while a manual-capture payment is only authorized, or while a SEPA debit is processing; the
  debit's outcome later emits `checkout.session.async_payment_succeeded` / `..._failed`).
- Decline: the session stays `open` with its PaymentIntent (`session.payment_intent` is set
  from the first attempt) in `requires_payment_method` with `last_payment_error`, after
  `payment_intent.payment_failed`; the payer can try again.

`setup` mode creates its SetupIntent (`usage` `off_session`) with the session, attaches the card
to the session's customer on success and completes with `payment_status` `no_payment_required`.
A card saved there with 3-D Secure counts as authenticated for later off-session payments.

Sessions expire at `expires_at` (30 minutes to 24 hours after creation, default 24 hours)
when the sandbox clock passes it, or on `POST /v1/checkout/sessions/{id}/expire`:
`status` `expired`, `checkout.session.expired`, and an unpaid PaymentIntent is canceled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from graphql_payments.sandbox import intents
from graphql_payments.sandbox.customers import create_customer, payment_method_for_choice
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
    new_id,
    new_metadata,
    snapshot,
)

MIN_LIFETIME = 30 * 60
MAX_LIFETIME = 24 * 3600
SESSION_TEMPLATE = "{CHECKOUT_SESSION_ID}"


@dataclass
class CheckoutOutcome:
    """What happened when a payer submitted the hosted checkout page."""

    succeeded: bool
    session: JSON
    redirect_url: str | None = None
    payment_intent: str | None = None
    setup_intent: str | None = None
    error: JSON | None = field(default=None)

    @property
    def declined(self) -> bool:
        return not self.succeeded


def _check_url(value: Any, param: str) -> None:
    if value is None:
        return
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("Not a valid URL", param=param, code="url_invalid")


def _line_items(state: State, params: JSON) -> tuple[list[JSON], str | None]:
    items: list[JSON] = []
    currency: str | None = None
    for index, line in enumerate(params.get("line_items") or []):
        path = f"line_items[{index}]"
        if line.get("price"):
            raise invalid(
                f"No such price: '{line['price']}'", param=f"{path}[price]", code="resource_missing"
            )
        price_data = line.get("price_data")
        if not price_data:
            raise invalid(
                f"Missing required param: {path}[price_data].",
                param=f"{path}[price_data]",
                code="parameter_missing",
            )
        if "quantity" not in line:
            raise invalid(
                f"Missing required param: {path}[quantity].",
                param=f"{path}[quantity]",
                code="parameter_missing",
            )
        if price_data.get("product"):
            raise invalid(
                f"No such product: '{price_data['product']}'",
                param=f"{path}[price_data][product]",
                code="resource_missing",
            )
        product_data = price_data.get("product_data")
        if not product_data or not product_data.get("name"):
            raise invalid(
                f"Missing required param: {path}[price_data][product_data][name].",
                param=f"{path}[price_data][product_data][name]",
                code="parameter_missing",
            )
        if "unit_amount" in price_data:
            unit_amount = int(price_data["unit_amount"])
        elif "unit_amount_decimal" in price_data:
            unit_amount = int(price_data["unit_amount_decimal"])
        else:
            raise invalid(
                f"Missing required param: {path}[price_data][unit_amount].",
                param=f"{path}[price_data][unit_amount]",
                code="parameter_missing",
            )
        quantity = int(line["quantity"])
        at_least_one(quantity, param=f"{path}[quantity]")
        if unit_amount < 0:
            raise invalid(
                "This value must be greater than or equal to 0.",
                param=f"{path}[price_data][unit_amount]",
                code="parameter_invalid_integer",
            )
        line_currency = price_data["currency"].lower()
        if currency is None:
            currency = line_currency
        elif currency != line_currency:
            raise invalid(
                "All line items must use the same currency.",
                param=f"{path}[price_data][currency]",
            )
        now = state.now()
        product_id = new_id("prod", 14)
        total = unit_amount * quantity
        items.append(
            {
                "id": new_id("li"),
                "object": "item",
                "amount_discount": 0,
                "amount_subtotal": total,
                "amount_tax": 0,
                "amount_total": total,
                "currency": line_currency,
                "description": product_data["name"],
                "price": {
                    "id": new_id("price"),
                    "object": "price",
                    "active": False,
                    "billing_scheme": "per_unit",
                    "created": now,
                    "currency": line_currency,
                    "custom_unit_amount": None,
                    "livemode": False,
                    "lookup_key": None,
                    "metadata": {},
                    "nickname": None,
                    "product": product_id,
                    "recurring": None,
                    "tax_behavior": price_data.get("tax_behavior", "unspecified"),
                    "tiers_mode": None,
                    "transform_quantity": None,
                    "type": "one_time",
                    "unit_amount": unit_amount,
                    "unit_amount_decimal": str(unit_amount),
                },
                "quantity": quantity,
                "product_description": product_data.get("description"),
            }
        )
    return items, currency


def create_session(state: State, params: JSON) -> JSON:
    mode = params.get("mode")
    if mode is None:
        raise invalid("Missing required param: mode.", param="mode", code="parameter_missing")
    if mode not in ("payment", "setup"):
        raise invalid(
            f"The sandbox supports Checkout in payment and setup mode, not {mode}.", param="mode"
        )
    now = state.now()
    items, currency = _line_items(state, params)
    if mode == "payment" and not items:
        raise invalid(
            "line_items is required in payment mode.",
            param="line_items",
            code="parameter_missing",
        )
    if mode == "setup" and items:
        raise invalid("line_items cannot be used in setup mode.", param="line_items")
    if mode != "payment" and params.get("payment_intent_data"):
        raise invalid(
            "You can only pass `payment_intent_data` in `payment` mode.",
            param="payment_intent_data",
        )
    if mode != "setup" and params.get("setup_intent_data"):
        raise invalid(
            "You can only pass `setup_intent_data` in `setup` mode.", param="setup_intent_data"
        )
    if params.get("customer") and params.get("customer_email"):
        raise invalid(
            "Pass either customer or customer_email, not both.",
            param="customer_email",
            code="parameters_exclusive",
        )
    customer = None
    if params.get("customer"):
        customer = state.get("customer", params["customer"], param="customer")
    if params.get("customer") and params.get("customer_creation"):
        raise invalid(
            "`customer_creation` can only be used when no `customer` is passed.",
            param="customer_creation",
        )
    _check_url(params.get("success_url"), "success_url")
    _check_url(params.get("cancel_url"), "cancel_url")
    expires_at = params.get("expires_at", now + MAX_LIFETIME)
    if expires_at < now + MIN_LIFETIME:
        raise invalid(
            "expires_at must be at least 30 minutes after the session is created.",
            param="expires_at",
        )
    if expires_at > now + MAX_LIFETIME:
        raise invalid(
            "expires_at must be at most 24 hours after the session is created.",
            param="expires_at",
        )
    amount_total = sum(item["amount_total"] for item in items)
    if mode == "payment":
        assert currency is not None
        intents.check_amount(amount_total, currency, param="line_items")
    pi_data = params.get("payment_intent_data") or {}
    if pi_data.get("transfer_data"):
        state.get(
            "account",
            pi_data["transfer_data"].get("destination"),
            param="payment_intent_data[transfer_data][destination]",
        )
    session_id = new_id("cs_test")
    types = list(params.get("payment_method_types") or ["card"])
    session: JSON = {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": params.get("allow_promotion_codes"),
        "amount_subtotal": amount_total if mode == "payment" else None,
        "amount_total": amount_total if mode == "payment" else None,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": params.get("billing_address_collection"),
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": currency or (params.get("currency") or "").lower() or None,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": customer["id"] if customer else None,
        "customer_account": None,
        "customer_creation": (None if customer else params.get("customer_creation", "if_required")),
        "customer_details": (
            {
                "address": None,
                "email": params.get("customer_email") or (customer or {}).get("email"),
                "name": None,
                "phone": None,
                "business_name": None,
                "individual_name": None,
                "tax_exempt": "none",
                "tax_ids": None,
            }
            if customer or params.get("customer_email")
            else None
        ),
        "customer_email": params.get("customer_email"),
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": (
            {"enabled": False, "invoice_data": None} if mode == "payment" else None
        ),
        "livemode": False,
        "locale": params.get("locale"),
        "managed_payments": None,
        "metadata": new_metadata(params.get("metadata")),
        "mode": mode,
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required" if mode == "payment" else "always",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": types,
        "payment_status": "unpaid" if mode == "payment" else "no_payment_required",
        "permissions": None,
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": params.get("submit_type"),
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": (
            {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}
            if mode == "payment"
            else None
        ),
        "ui_mode": "hosted_page",
        "url": f"{state.public_url}/checkout/{session_id}",
        "wallet_options": None,
    }
    state.add(
        session,
        note={
            "line_items": items,
            "payment_intent_data": pi_data,
            "setup_intent_data": params.get("setup_intent_data") or {},
            "explicit_types": bool(params.get("payment_method_types")),
        },
    )
    state.schedule(expires_at, "checkout_expiry", session_id)
    if mode == "setup":
        # As on Stripe, a setup-mode session has its SetupIntent from the start, so its client
        # secret can serve Stripe.js as well as the hosted page.
        _setup_intent_for(state, session)
    return session


def update_session(state: State, session: JSON, params: JSON) -> JSON:
    if "metadata" in params:
        apply_metadata(session["metadata"], params["metadata"])
    return session


def line_items(state: State, session: JSON) -> list[JSON]:
    items: list[JSON] = state.note(session["id"]).get("line_items", [])
    return [{k: v for k, v in item.items() if k != "product_description"} for item in items]


def _fill(url: str | None, session_id: str) -> str | None:
    return url.replace(SESSION_TEMPLATE, session_id) if url else None


def success_redirect(state: State, session: JSON) -> str:
    return _fill(session["success_url"], session["id"]) or (
        f"{state.public_url}/checkout/{session['id']}"
    )


def cancel_redirect(state: State, session: JSON) -> str:
    return _fill(session["cancel_url"], session["id"]) or (
        f"{state.public_url}/checkout/{session['id']}"
    )


def _payment_intent_for(state: State, session: JSON) -> JSON:
    existing = state.maybe("payment_intent", session["payment_intent"])
    if existing is not None and existing["status"] in intents.OPEN_STATUSES:
        return existing
    data: JSON = state.note(session["id"])["payment_intent_data"]
    params: JSON = {
        "amount": session["amount_total"],
        "currency": session["currency"],
        "metadata": data.get("metadata") or {},
        "payment_method_types": ["card", "sepa_debit"],
    }
    if session["customer"]:
        params["customer"] = session["customer"]
    for key in (
        "capture_method",
        "description",
        "receipt_email",
        "setup_future_usage",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "transfer_group",
        "transfer_data",
        "application_fee_amount",
        "on_behalf_of",
        "shipping",
    ):
        if data.get(key) is not None:
            params[key] = data[key]
    pi = intents.create_payment_intent(state, params, note={"checkout_session": session["id"]})
    session["payment_intent"] = pi["id"]
    return pi


def _setup_intent_for(state: State, session: JSON) -> JSON:
    existing = state.maybe("setup_intent", session["setup_intent"])
    if existing is not None and existing["status"] in intents.OPEN_STATUSES:
        return existing
    data: JSON = state.note(session["id"])["setup_intent_data"]
    params: JSON = {"metadata": data.get("metadata") or {}, "usage": "off_session"}
    if data.get("description"):
        params["description"] = data["description"]
    if session["customer"]:
        params["customer"] = session["customer"]
    si = intents.create_setup_intent(state, params, note={"checkout_session": session["id"]})
    session["setup_intent"] = si["id"]
    return si


def _ensure_customer(
    state: State, session: JSON, email: str | None, intent: JSON | None = None
) -> None:
    """Create the session's customer when `customer_creation` is `always` (or a card is saved)."""
    wanted = session["customer_creation"] == "always" or (
        intent is not None and intent.get("setup_future_usage")
    )
    if session["customer"] is None and wanted:
        customer = create_customer(state, {"email": email} if email else {})
        session["customer"] = customer["id"]
    if intent is None or not session["customer"] or intent["customer"] is not None:
        return
    intent["customer"] = session["customer"]
    charge = state.maybe("charge", intent.get("latest_charge"))
    if charge is not None:
        charge["customer"] = session["customer"]


def pay(state: State, session: JSON, choice: str, *, email: str | None = None) -> CheckoutOutcome:
    """Submit the hosted page with a test card number, `pm_card_*` id or test IBAN."""
    if session["status"] != "open":
        raise unexpected_state(
            f"This Checkout Session is {session['status']} and can no longer be paid.",
            code="checkout_session_inactive",
        )
    email = email or session["customer_email"] or (session["customer_details"] or {}).get("email")
    if email is None and session["customer"]:
        email = state.get("customer", session["customer"]).get("email")
    pm = payment_method_for_choice(state, choice, email=email)
    note = state.note(session["id"])
    if note.get("explicit_types") and pm["type"] not in session["payment_method_types"]:
        raise invalid(f"This Checkout Session does not accept {pm['type']} payments.", param="card")
    before = snapshot(session)
    payment = session["mode"] == "payment"
    if payment:
        intent = _payment_intent_for(state, session)
        if intent["setup_future_usage"]:
            _ensure_customer(state, session, email, intent)
    else:
        _ensure_customer(state, session, email)
        intent = _setup_intent_for(state, session)
        _ensure_customer(state, session, email, intent)
    params = {"payment_method": pm["id"]}
    try:
        if payment:
            intents.confirm_payment_intent(state, intent, params, on_hosted_page=True)
        else:
            intents.confirm_setup_intent(state, intent, params, on_hosted_page=True)
    except SandboxError as error:
        if error.status != 402:
            raise
        return _outcome(state, session, intent, error=error.to_dict())
    if payment:
        _ensure_customer(state, session, email, intent)
        paid = intent["status"] == "succeeded"
        _complete(state, session, before, email, payment_status="paid" if paid else "unpaid")
    else:
        _complete(state, session, before, email, payment_status="no_payment_required")
    return _outcome(state, session, intent)


def _outcome(
    state: State, session: JSON, intent: JSON, *, error: JSON | None = None
) -> CheckoutOutcome:
    setup = intent["object"] == "setup_intent"
    return CheckoutOutcome(
        succeeded=error is None,
        session=state.render(session),
        redirect_url=success_redirect(state, session) if error is None else None,
        payment_intent=None if setup else intent["id"],
        setup_intent=intent["id"] if setup else None,
        error=error,
    )


def _complete(
    state: State, session: JSON, before: JSON, email: str | None, *, payment_status: str
) -> None:
    customer = state.maybe("customer", session["customer"])
    session["status"] = "complete"
    session["payment_status"] = payment_status
    session["url"] = None
    session["customer_details"] = {
        "address": {
            "city": None,
            "country": "US",
            "line1": None,
            "line2": None,
            "postal_code": "42424",
            "state": None,
        },
        "business_name": None,
        "email": email or (customer or {}).get("email"),
        "individual_name": None,
        "name": (customer or {}).get("name"),
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }
    state.emit("checkout.session.completed", session, before=before)


def expire_session(state: State, session: JSON) -> JSON:
    if session["status"] != "open":
        raise invalid(
            f"Only open Checkout Sessions can be expired; this one is {session['status']}.",
        )
    before = snapshot(session)
    pi = state.maybe("payment_intent", session["payment_intent"])
    if pi is not None and pi["status"] in intents.OPEN_STATUSES:
        intents.cancel_payment_intent(state, pi, reason="abandoned")
    si = state.maybe("setup_intent", session["setup_intent"])
    if si is not None and si["status"] in intents.OPEN_STATUSES:
        intents.cancel_setup_intent(state, si, reason="abandoned")
    session["status"] = "expired"
    session["url"] = None
    state.emit("checkout.session.expired", session, before=before)
    return session


def expire_when_due(state: State, session_id: str) -> None:
    session = state.maybe("checkout.session", session_id)
    if session is not None and session["status"] == "open":
        expire_session(state, session)
