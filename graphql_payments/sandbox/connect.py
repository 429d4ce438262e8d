"""Connected accounts, transfers and transfer reversals (Stripe Connect).

Accounts of type `express`, `custom` or `standard` are created ready to use: details
submitted, charges and payouts enabled, requested capabilities active, so funds can be moved
to them at once; an account whose requested capabilities leave out `transfers` refuses
transfers (`insufficient_capabilities_for_transfer`). A transfer moves funds from the platform
balance to an account; with `source_transaction` it draws on that charge (never more than the
charge's captured amount not yet refunded or transferred), without it on the available balance
(`balance_insufficient` when short). Reversals take funds back, never more than what is left
of the transfer, and set `amount_reversed` and `reversed`.
"""

from __future__ import annotations

from graphql_payments.sandbox import balance
from graphql_payments.sandbox.currencies import SUPPORTED, format_amount
from graphql_payments.sandbox.errors import JSON, at_least_one, invalid
from graphql_payments.sandbox.state import (
    State,
    list_envelope,
    new_id,
    new_metadata,
    snapshot,
    update_object,
)

# An account receives transfers only with one of these capabilities active.
TRANSFER_CAPABILITIES = ("transfers", "crypto_transfers", "legacy_payments")

COUNTRY_CURRENCY = {
    "US": "usd",
    "CA": "cad",
    "GB": "gbp",
    "JP": "jpy",
    "AU": "aud",
    "NZ": "nzd",
    "SG": "sgd",
    "HK": "hkd",
    "CH": "chf",
    "SE": "sek",
    "NO": "nok",
    "DK": "dkk",
    "PL": "pln",
    "CZ": "czk",
    "MX": "mxn",
    "BR": "brl",
    "IN": "inr",
}


def _requirements() -> JSON:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }


def create_account(state: State, params: JSON) -> JSON:
    account_type = params.get("type")
    controller = params.get("controller") or {}
    if account_type is None and not controller:
        account_type = "standard"
    country = (params.get("country") or "US").upper()
    requested = params.get("capabilities") or {}
    capabilities = {
        name: "active"
        for name, value in requested.items()
        if isinstance(value, dict) and value.get("requested")
    } or {"card_payments": "active", "transfers": "active"}
    account_id = new_id("acct", 16)
    now = state.now()
    account: JSON = {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "name": None,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
            **{
                key: value
                for key, value in (params.get("business_profile") or {}).items()
                if isinstance(value, str)
            },
        },
        "business_type": params.get("business_type"),
        "capabilities": capabilities,
        "charges_enabled": True,
        "controller": {
            "fees": {"payer": "application"},
            "is_controller": True,
            "losses": {"payments": "application"},
            "requirement_collection": "stripe" if account_type != "custom" else "application",
            "stripe_dashboard": {"type": account_type or "none"},
            "type": "application",
        },
        "country": country,
        "created": now,
        "default_currency": params.get("default_currency") or COUNTRY_CURRENCY.get(country, "eur"),
        "details_submitted": True,
        "email": params.get("email"),
        "external_accounts": list_envelope([], f"/v1/accounts/{account_id}/external_accounts"),
        "future_requirements": _requirements(),
        "livemode": False,
        "metadata": new_metadata(params.get("metadata")),
        "payouts_enabled": True,
        "requirements": _requirements(),
        "settings": {
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "payments": {"statement_descriptor": None},
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
        },
        "tos_acceptance": {"date": now, "ip": "127.0.0.1", "user_agent": None},
        "type": account_type or "none",
    }
    return state.add(account)


def _update_business_profile(account: JSON, params: JSON) -> None:
    if isinstance(params.get("business_profile"), dict):
        for key, value in params["business_profile"].items():
            if isinstance(value, str):
                account["business_profile"][key] = value or None


def update_account(state: State, account: JSON, params: JSON) -> JSON:
    return update_object(
        state,
        account,
        params,
        "account.updated",
        fields=("email", "business_type", "default_currency"),
        also=_update_business_profile,
    )


def platform_account(state: State) -> JSON:
    return {
        "id": "acct_sandboxplatform",
        "object": "account",
        "business_profile": {"name": "Sandbox platform", "url": None},
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "country": "US",
        "created": 0,
        "default_currency": "usd",
        "details_submitted": True,
        "email": None,
        "livemode": False,
        "metadata": {},
        "payouts_enabled": True,
        "type": "standard",
    }


def _transferred_from(state: State, charge_id: str) -> int:
    return sum(
        transfer["amount"] - transfer["amount_reversed"]
        for transfer in state.all("transfer")
        if transfer["source_transaction"] == charge_id
    )


def create_transfer(state: State, params: JSON) -> JSON:
    amount: int = params["amount"]
    currency: str = params["currency"].lower()
    if currency not in SUPPORTED:
        raise invalid(f"Invalid currency: {currency}.", param="currency")
    at_least_one(amount, param="amount")
    destination = params["destination"]
    account = state.maybe("account", destination)
    if account is None:
        raise invalid(
            f"No such destination: '{destination}'",
            param="destination",
            code="resource_missing",
        )
    if not any(account["capabilities"].get(name) == "active" for name in TRANSFER_CAPABILITIES):
        raise invalid(
            "Your destination account needs to have at least one of the following "
            f"capabilities enabled: {', '.join(TRANSFER_CAPABILITIES)}",
            param="destination",
            code="insufficient_capabilities_for_transfer",
        )
    source_id = params.get("source_transaction")
    if source_id:
        charge = state.get("charge", source_id, param="source_transaction")
        if charge["status"] != "succeeded" or not charge["captured"]:
            raise invalid(
                f"The source transaction {source_id} has not been captured.",
                param="source_transaction",
            )
        if charge["currency"] != currency:
            raise invalid(
                f"The transfer currency ({currency}) must match the currency of the source "
                f"transaction ({charge['currency']}).",
                param="currency",
            )
        left = (
            charge["amount_captured"]
            - charge["amount_refunded"]
            - _transferred_from(state, source_id)
        )
        if amount > left:
            raise invalid(
                f"Insufficient funds in the source transaction: {format_amount(amount, currency)} "
                f"requested, {format_amount(max(left, 0), currency)} left.",
                param="amount",
                code="amount_too_large",
            )
    elif balance.available(state, currency) < amount:
        raise invalid(
            f"The available {currency} balance is too low for this transfer.",
            code="balance_insufficient",
        )
    transfer_id = new_id("tr")
    txn = balance.book(
        state,
        type="transfer",
        amount=-amount,
        currency=currency,
        source=transfer_id,
        description=params.get("description"),
    )
    transfer: JSON = {
        "id": transfer_id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": txn["id"],
        "created": state.now(),
        "currency": currency,
        "description": params.get("description"),
        "destination": destination,
        "destination_payment": new_id("py"),
        "livemode": False,
        "metadata": new_metadata(params.get("metadata")),
        "reversed": False,
        "source_transaction": source_id,
        "source_type": params.get("source_type", "card"),
        "transfer_group": params.get("transfer_group"),
    }
    state.add(transfer)
    state.emit("transfer.created", transfer)
    return transfer


def update_transfer(state: State, transfer: JSON, params: JSON) -> JSON:
    return update_object(state, transfer, params, "transfer.updated", fields=("description",))


def reverse_transfer(state: State, transfer: JSON, params: JSON) -> JSON:
    left = transfer["amount"] - transfer["amount_reversed"]
    if left <= 0:
        raise invalid(
            f"Transfer {transfer['id']} has already been fully reversed.",
            param="amount",
            code="amount_too_large",
        )
    amount = params.get("amount", left)
    at_least_one(amount, param="amount")
    if amount > left:
        raise invalid(
            f"Transfer reversal amount ({format_amount(amount, transfer['currency'])}) is "
            f"greater than the amount left on the transfer "
            f"({format_amount(left, transfer['currency'])}).",
            param="amount",
            code="amount_too_large",
        )
    reversal_id = new_id("trr")
    txn = balance.book(
        state,
        type="transfer_refund",
        amount=amount,
        currency=transfer["currency"],
        source=reversal_id,
        description=params.get("description"),
    )
    reversal: JSON = {
        "id": reversal_id,
        "object": "transfer_reversal",
        "amount": amount,
        "balance_transaction": txn["id"],
        "created": state.now(),
        "currency": transfer["currency"],
        "destination_payment_refund": new_id("pyr"),
        "metadata": new_metadata(params.get("metadata")),
        "source_refund": params.get("refund"),
        "transfer": transfer["id"],
    }
    state.add(reversal)
    before = snapshot(transfer)
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] >= transfer["amount"]
    state.emit("transfer.reversed", transfer, before=before)
    return reversal
