"""Customers and PaymentMethods.

A PaymentMethod is created from card details (`card[number]`, `card[exp_month]`,
`card[exp_year]`, `card[cvc]`), from a test token (`card[token]=tok_visa`), from an IBAN
(`type=sepa_debit`), or implicitly whenever a `pm_card_*` test id is used where a PaymentMethod
id is expected: each use makes a fresh `pm_...` object, as on Stripe.

Attaching a declining test card to a customer fails with the card's decline (402), except
`4000 0000 0000 0341`, which saves fine and declines every charge.
"""

from __future__ import annotations

import datetime
from typing import Any

from graphql_payments.sandbox.cards import (
    TEST_IBANS,
    TEST_PAYMENT_METHODS,
    Behaviour,
    TestCard,
    card_for,
    fingerprint,
    normalize_iban,
)
from graphql_payments.sandbox.errors import JSON, SandboxError, invalid
from graphql_payments.sandbox.state import (
    State,
    apply_metadata,
    new_id,
    new_metadata,
    random_token,
    snapshot,
    update_object,
)

EMPTY_ADDRESS: JSON = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}


def _address(value: Any) -> JSON | None:
    if not isinstance(value, dict):
        return None
    return {**EMPTY_ADDRESS, **{key: value.get(key) for key in EMPTY_ADDRESS if key in value}}


# -- customers --------------------------------------------------------------------------------


def create_customer(state: State, params: JSON) -> JSON:
    invoice_settings = params.get("invoice_settings") or {}
    customer: JSON = {
        "id": new_id("cus", 14),
        "object": "customer",
        "address": _address(params.get("address")),
        "balance": params.get("balance", 0),
        "created": state.now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.get("description"),
        "discount": None,
        "email": params.get("email"),
        "invoice_prefix": random_token(8).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": new_metadata(params.get("metadata")),
        "name": params.get("name"),
        "next_invoice_sequence": 1,
        "phone": params.get("phone"),
        "preferred_locales": list(params.get("preferred_locales") or []),
        "shipping": None,
        "tax_exempt": params.get("tax_exempt", "none"),
        "test_clock": None,
    }
    payment_method = None
    if params.get("payment_method"):
        payment_method = resolve_payment_method(
            state, params["payment_method"], param="payment_method"
        )
        _check_attachable(payment_method, customer["id"])
    default_pm = invoice_settings.get("default_payment_method")
    if default_pm and (payment_method is None or payment_method["id"] != default_pm):
        raise invalid(
            "The default payment method must be attached to the customer.",
            param="invoice_settings[default_payment_method]",
        )
    state.add(customer)
    state.emit("customer.created", customer)
    if payment_method is not None:
        attach_payment_method(state, payment_method, customer["id"])
        if default_pm:
            before = snapshot(customer)
            customer["invoice_settings"]["default_payment_method"] = payment_method["id"]
            state.emit("customer.updated", customer, before=before)
    return customer


def update_customer(state: State, customer: JSON, params: JSON) -> JSON:
    before = snapshot(customer)
    changes = dict(customer)
    changes["invoice_settings"] = dict(customer["invoice_settings"])
    changes["metadata"] = dict(customer["metadata"])
    for key in ("email", "name", "description", "phone", "tax_exempt"):
        if key in params:
            changes[key] = params[key] or None
    if "balance" in params:
        changes["balance"] = params["balance"]
    if "address" in params:
        changes["address"] = _address(params["address"])
    if "preferred_locales" in params:
        changes["preferred_locales"] = list(params["preferred_locales"] or [])
    if "metadata" in params:
        apply_metadata(changes["metadata"], params["metadata"])
    invoice_settings = params.get("invoice_settings")
    if isinstance(invoice_settings, dict) and "default_payment_method" in invoice_settings:
        pm_id = invoice_settings["default_payment_method"] or None
        if pm_id is not None:
            pm = state.get(
                "payment_method", pm_id, param="invoice_settings[default_payment_method]"
            )
            if pm["customer"] != customer["id"]:
                raise invalid(
                    f"The customer does not have a payment method with the ID {pm_id}. "
                    "The payment method must be attached to the customer.",
                    param="invoice_settings[default_payment_method]",
                    code="resource_missing",
                )
        changes["invoice_settings"]["default_payment_method"] = pm_id
    customer.update(changes)
    if customer != before:
        state.emit("customer.updated", customer, before=before)
    return customer


def delete_customer(state: State, customer: JSON) -> JSON:
    for pm in state.all("payment_method"):
        if pm["customer"] == customer["id"]:
            pm["customer"] = None
    state.objects["customer"].pop(customer["id"])
    state.emit("customer.deleted", customer)
    tombstone: JSON = {"id": customer["id"], "object": "customer", "deleted": True}
    state.note(customer["id"])["deleted"] = tombstone
    return tombstone


# -- payment methods --------------------------------------------------------------------------


def _billing_details(params: Any) -> JSON:
    given = params if isinstance(params, dict) else {}
    return {
        "address": _address(given.get("address")) or dict(EMPTY_ADDRESS),
        "email": given.get("email") or None,
        "name": given.get("name") or None,
        "phone": given.get("phone") or None,
        "tax_id": None,
    }


def _default_expiry(state: State) -> tuple[int, int]:
    today = datetime.datetime.fromtimestamp(state.now(), tz=datetime.UTC)
    return 12, today.year + 3


def card_payment_method(
    state: State,
    card: TestCard,
    *,
    exp_month: int | None = None,
    exp_year: int | None = None,
    billing_details: Any = None,
    metadata: Any = None,
    cvc_checked: bool = True,
) -> JSON:
    default_month, default_year = _default_expiry(state)
    pm: JSON = {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": _billing_details(billing_details),
        "card": {
            "brand": card.brand,
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass" if cvc_checked else None,
            },
            "country": card.country,
            "display_brand": card.brand,
            "exp_month": exp_month or default_month,
            "exp_year": exp_year or default_year,
            "fingerprint": card.fingerprint,
            "funding": card.funding,
            "generated_from": None,
            "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": None},
            "regulated_status": "unregulated",
            "three_d_secure_usage": {"supported": True},
            "wallet": None,
        },
        "created": state.now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": new_metadata(metadata),
        "type": "card",
    }
    return state.add(pm, note={"number": card.number})


def sepa_payment_method(
    state: State, iban: str, *, billing_details: Any = None, metadata: Any = None
) -> JSON:
    iban = normalize_iban(iban)
    pm: JSON = {
        "id": new_id("pm"),
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": _billing_details(billing_details),
        "created": state.now(),
        "customer": None,
        "customer_account": None,
        "livemode": False,
        "metadata": new_metadata(metadata),
        "sepa_debit": {
            "bank_code": iban[4:12],
            "branch_code": "",
            "country": iban[:2],
            "fingerprint": fingerprint(iban),
            "generated_from": {"charge": None, "setup_attempt": None},
            "last4": iban[-4:],
        },
        "type": "sepa_debit",
    }
    return state.add(pm, note={"iban": iban, "settles": TEST_IBANS.get(iban, True)})


def _card_error(code: str, message: str, param: str) -> SandboxError:
    return SandboxError(message, status=402, type="card_error", code=code, param=param)


def create_payment_method(state: State, params: JSON) -> JSON:
    kind = params.get("type")
    if kind is None:
        raise invalid("Missing required param: type.", param="type", code="parameter_missing")
    if kind == "card":
        card_params = params.get("card")
        if not isinstance(card_params, dict):
            raise invalid("Missing required param: card.", param="card", code="parameter_missing")
        if "token" in card_params:
            token = card_params["token"]
            test_id = "pm_card_" + token.removeprefix("tok_")
            number = TEST_PAYMENT_METHODS.get(test_id)
            if not token.startswith("tok_") or number is None:
                raise invalid(f"No such token: '{token}'", param="card[token]")
            card = card_for(number)
            assert card is not None
            return card_payment_method(
                state,
                card,
                billing_details=params.get("billing_details"),
                metadata=params.get("metadata"),
            )
        for key in ("number", "exp_month", "exp_year"):
            if key not in card_params:
                raise invalid(
                    f"Missing required param: card[{key}].",
                    param=f"card[{key}]",
                    code="parameter_missing",
                )
        card = card_for(str(card_params["number"]))
        if card is None:
            raise _card_error("incorrect_number", "Your card number is incorrect.", "card[number]")
        exp_month = int(card_params["exp_month"])
        exp_year = int(card_params["exp_year"])
        if exp_year < 100:
            exp_year += 2000
        if not 1 <= exp_month <= 12:
            raise _card_error(
                "invalid_expiry_month",
                "Your card's expiration month is invalid.",
                "card[exp_month]",
            )
        today = datetime.datetime.fromtimestamp(state.now(), tz=datetime.UTC)
        if (exp_year, exp_month) < (today.year, today.month) or exp_year > today.year + 50:
            raise _card_error(
                "invalid_expiry_year", "Your card's expiration year is invalid.", "card[exp_year]"
            )
        cvc = card_params.get("cvc")
        if cvc is not None and not (str(cvc).isdigit() and len(str(cvc)) in (3, 4)):
            raise _card_error("invalid_cvc", "Your card's security code is invalid.", "card[cvc]")
        return card_payment_method(
            state,
            card,
            exp_month=exp_month,
            exp_year=exp_year,
            billing_details=params.get("billing_details"),
            metadata=params.get("metadata"),
            cvc_checked=cvc is not None,
        )
    if kind == "sepa_debit":
        sepa = params.get("sepa_debit")
        iban = sepa.get("iban") if isinstance(sepa, dict) else None
        if not iban:
            raise invalid(
                "Missing required param: sepa_debit[iban].",
                param="sepa_debit[iban]",
                code="parameter_missing",
            )
        normalized = normalize_iban(iban)
        if not (15 <= len(normalized) <= 34 and normalized[:2].isalpha()):
            raise invalid("The provided IBAN is invalid.", param="sepa_debit[iban]")
        return sepa_payment_method(
            state,
            normalized,
            billing_details=params.get("billing_details"),
            metadata=params.get("metadata"),
        )
    raise invalid(
        f"The sandbox supports PaymentMethods of type card and sepa_debit, not {kind}.",
        param="type",
    )


def resolve_payment_method(state: State, ref: str, *, param: str = "payment_method") -> JSON:
    """A stored PaymentMethod, or a fresh one for a `pm_card_*` / `tok_*` test id."""
    number = TEST_PAYMENT_METHODS.get(ref)
    if number is None and ref.startswith("tok_"):
        number = TEST_PAYMENT_METHODS.get("pm_card_" + ref.removeprefix("tok_"))
    if number is not None:
        card = card_for(number)
        assert card is not None
        return card_payment_method(state, card)
    return state.get("payment_method", ref, param=param)


def payment_method_for_choice(state: State, choice: str, *, email: str | None = None) -> JSON:
    """A PaymentMethod for what a payer picks on a hosted page: card number, test id or IBAN."""
    billing = {"email": email} if email else None
    choice = choice.strip()
    if choice.startswith(("pm_", "tok_")):
        pm = resolve_payment_method(state, choice, param="card")
        if billing and pm["customer"] is None:
            pm["billing_details"]["email"] = email
        return pm
    compact = choice.replace(" ", "").replace("-", "")
    if compact[:2].isalpha():
        normalized = normalize_iban(compact)
        return sepa_payment_method(state, normalized, billing_details=billing)
    card = card_for(compact)
    if card is None:
        raise _card_error("incorrect_number", "Your card number is incorrect.", "card")
    return card_payment_method(state, card, billing_details=billing)


def card_of(state: State, pm: JSON) -> TestCard | None:
    number = state.note(pm["id"]).get("number")
    return card_for(number) if number else None


def _check_attachable(pm: JSON, customer_id: str) -> None:
    if pm["customer"] is not None and pm["customer"] != customer_id:
        raise invalid(
            "This PaymentMethod is already attached to another customer.",
            param="payment_method",
        )


def attach_payment_method(state: State, pm: JSON, customer_id: str) -> JSON:
    """Save a PaymentMethod to a customer; declining test cards fail like on Stripe."""
    _check_attachable(pm, customer_id)
    if pm["customer"] == customer_id:
        return pm
    card = card_of(state, pm)
    if card is not None and card.behaviour is Behaviour.DECLINE and card.decline is not None:
        raise SandboxError(
            card.decline.message,
            status=402,
            type="card_error",
            code=card.decline.code,
            decline_code=card.decline.decline_code,
            param=card.decline.param,
        )
    before = snapshot(pm)
    pm["customer"] = customer_id
    state.emit("payment_method.attached", pm, before=before)
    return pm


def detach_payment_method(state: State, pm: JSON) -> JSON:
    if pm["customer"] is None:
        raise invalid(
            "This PaymentMethod is not attached to a customer, so it cannot be detached.",
            param="payment_method",
        )
    customer = state.maybe("customer", pm["customer"])
    before = snapshot(pm)
    pm["customer"] = None
    state.emit("payment_method.detached", pm, before=before)
    if customer is not None and customer["invoice_settings"]["default_payment_method"] == pm["id"]:
        customer_before = snapshot(customer)
        customer["invoice_settings"]["default_payment_method"] = None
        state.emit("customer.updated", customer, before=customer_before)
    return pm


def _update_payment_method_details(pm: JSON, params: JSON) -> None:
    if "billing_details" in params and isinstance(params["billing_details"], dict):
        current = pm["billing_details"]
        for key, value in params["billing_details"].items():
            current[key] = _address(value) if key == "address" else (value or None)
    if pm["type"] == "card" and isinstance(params.get("card"), dict):
        for key in ("exp_month", "exp_year"):
            if key in params["card"]:
                pm["card"][key] = params["card"][key]


def update_payment_method(state: State, pm: JSON, params: JSON) -> JSON:
    return update_object(
        state, pm, params, "payment_method.updated", also=_update_payment_method_details
    )
