"""Connected accounts, transfers and transfer reversals (Stripe Connect).

Accounts of type `express`, `custom` or `standard` start as Stripe's do: nothing enabled,
requested capabilities `inactive`, and `requirements.currently_due` listing what the holder
must provide (`ONBOARDING_FIELDS`). Creating or updating the account with those facts
(`business_type`, `business_profile[url]`, `external_account`, `tos_acceptance[date|ip]`), or
`Sandbox.complete_onboarding` (the holder finishing Stripe's hosted onboarding), satisfies them:
the capabilities turn `active`, charges and payouts are enabled, and `account.updated` is
emitted. An account without an active `transfers` capability refuses transfers
(`insufficient_capabilities_for_transfer`). A transfer moves funds from the platform
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
    net_captured,
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


# What an account must provide before its capabilities turn active (Stripe's test mode asks
# for the same kind of facts); onboarding (`complete_onboarding`) provides them all.
ONBOARDING_FIELDS = (
    "business_profile.url",
    "business_type",
    "external_account",
    "tos_acceptance.date",
    "tos_acceptance.ip",
)


def _requirements(due: list[str]) -> JSON:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": "requirements.past_due" if due else None,
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": [],
    }


def _provided(account: JSON, params: JSON) -> set[str]:
    """The onboarding fields the parameters of a create or update call provide."""
    given: set[str] = set()
    if (params.get("business_profile") or {}).get("url"):
        given.add("business_profile.url")
    if params.get("business_type"):
        given.add("business_type")
    if params.get("external_account"):
        given.add("external_account")
    tos = params.get("tos_acceptance") or {}
    given.update(f"tos_acceptance.{key}" for key in ("date", "ip") if tos.get(key))
    if tos:
        account["tos_acceptance"].update(
            {key: tos[key] for key in ("date", "ip", "user_agent") if key in tos}
        )
    return given


def _apply_requirements(account: JSON, given: set[str]) -> None:
    """Drop what was provided; once nothing is due, the requested capabilities turn active."""
    due = [name for name in account["requirements"]["currently_due"] if name not in given]
    account["requirements"] = _requirements(due)
    if due:
        return
    account["capabilities"] = {name: "active" for name in account["capabilities"]}
    account["details_submitted"] = True
    account["charges_enabled"] = account["capabilities"].get("card_payments") == "active"
    account["payouts_enabled"] = True


def create_account(state: State, params: JSON) -> JSON:
    account_type = params.get("type")
    controller = params.get("controller") or {}
    if account_type is None and not controller:
        account_type = "standard"
    country = (params.get("country") or "US").upper()
    requested = params.get("capabilities") or {}
    capabilities = {
        name: "inactive"
        for name, value in requested.items()
        if isinstance(value, dict) and value.get("requested")
    } or {"card_payments": "inactive", "transfers": "inactive"}
    account_id = new_id("acct", 16)
    account: JSON = {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "minority_owned_business_designation": None,
            "name": None,
            "product_description": None,
            "support_address": None,
            "support_email": None,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": None,
        "capabilities": capabilities,
        "charges_enabled": False,
        "controller": {
            "fees": {"payer": "application"},
            "is_controller": True,
            "losses": {"payments": "application"},
            "requirement_collection": "stripe" if account_type != "custom" else "application",
            "stripe_dashboard": {"type": account_type or "none"},
            "type": "application",
        },
        "country": country,
        "created": state.now(),
        "default_currency": params.get("default_currency") or COUNTRY_CURRENCY.get(country, "eur"),
        "details_submitted": False,
        "email": params.get("email"),
        "external_accounts": list_envelope([], f"/v1/accounts/{account_id}/external_accounts"),
        "future_requirements": _requirements([]),
        "metadata": new_metadata(params.get("metadata")),
        "payouts_enabled": False,
        "requirements": _requirements(list(ONBOARDING_FIELDS)),
        "settings": _settings(),
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": account_type or "none",
    }
    _update_profile(account, params)
    _apply_requirements(account, _provided(account, params))
    return state.add(account)


def _settings() -> JSON:
    return {
        "bacs_debit_payments": {"display_name": None, "service_user_number": None},
        "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
        "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
        "card_payments": {
            "decline_on": {"avs_failure": False, "cvc_failure": False},
            "statement_descriptor_prefix": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
        "invoices": {
            "default_account_tax_ids": None,
            "hosted_payment_method_save": "offer",
        },
        "payments": {
            "statement_descriptor": None,
            "statement_descriptor_kana": None,
            "statement_descriptor_kanji": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "payouts": {
            "debit_negative_balances": True,
            "schedule": {"delay_days": 2, "interval": "daily"},
            "statement_descriptor": None,
        },
        "sepa_debit_payments": {},
    }


def _update_profile(account: JSON, params: JSON) -> None:
    if isinstance(params.get("business_profile"), dict):
        for key, value in params["business_profile"].items():
            if isinstance(value, str) and key in account["business_profile"]:
                account["business_profile"][key] = value or None
    if "business_type" in params:
        account["business_type"] = params["business_type"] or None


def update_account(state: State, account: JSON, params: JSON) -> JSON:
    def also(obj: JSON, changes: JSON) -> None:
        _update_profile(obj, changes)
        _apply_requirements(obj, _provided(obj, changes))
        requested = changes.get("capabilities") or {}
        for name, value in requested.items():
            wanted = isinstance(value, dict) and value.get("requested")
            if wanted and name not in obj["capabilities"]:
                ready = not obj["requirements"]["currently_due"]
                obj["capabilities"][name] = "active" if ready else "inactive"

    return update_object(
        state, account, params, "account.updated", fields=("email", "default_currency"), also=also
    )


def complete_onboarding(state: State, account: JSON) -> JSON:
    """The account holder finishes onboarding: everything due is provided."""
    before = snapshot(account)
    account["business_type"] = account["business_type"] or "individual"
    account["business_profile"]["url"] = account["business_profile"]["url"] or "https://example.com"
    account["tos_acceptance"].update(
        {"date": account["tos_acceptance"]["date"] or state.now(), "ip": "127.0.0.1"}
    )
    _apply_requirements(account, set(ONBOARDING_FIELDS))
    if account != before:
        state.emit("account.updated", account, before=before)
    return account


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
        left = net_captured(charge) - _transferred_from(state, source_id)
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
