"""`StripeGateway`: every call this product makes to Stripe.

Calls are async (`*_async`), carry an idempotency key derived from our own record on every
POST, and turn `stripe.StripeError` into our domain errors, so nothing above this module
knows the SDK exists.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx
import stripe

from graphql_payments.errors import (
    CardDeclined,
    StripeFailed,
    WebhookSignatureInvalid,
)
from graphql_payments.gateway.http import StripeHTTP, http_client, stripe_client
from graphql_payments.gateway.objects import (
    StripeAccount,
    StripeCheckoutSession,
    StripeCustomer,
    StripePaymentIntent,
    StripePaymentMethod,
    StripeRefund,
    StripeSetupIntent,
    StripeSetupSession,
    StripeTransfer,
)

log = logging.getLogger(__name__)

EXPAND_CHARGE: dict[str, Any] = {"expand": ["latest_charge"]}


def _id(value: str) -> str:
    """An id as a path segment (as the SDK quotes it)."""
    return quote_plus(value)


def provider_error(exc: stripe.StripeError) -> StripeFailed:
    """The domain error for a Stripe failure, keeping Stripe's code and decline code."""
    error = getattr(exc, "error", None)
    decline_code = getattr(error, "decline_code", None) if error is not None else None
    message = exc.user_message or str(exc._message or "Stripe could not process the request.")
    log.debug("Stripe call failed: %s: %s", type(exc).__name__, exc)
    intent = getattr(error, "payment_intent", None) if error is not None else None
    intent_id = getattr(intent, "id", None) if intent is not None else None
    charge_id = getattr(error, "charge", None) if error is not None else None
    if isinstance(exc, stripe.CardError):
        return CardDeclined(
            message,
            stripe_code=exc.code,
            decline_code=decline_code,
            payment_intent_id=intent_id,
            charge_id=charge_id if isinstance(charge_id, str) else None,
        )
    retryable = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        log.error("Stripe refused our credentials: %s", exc)
        message = "The payment provider is not configured correctly."
    elif retryable:
        message = "The payment provider is unavailable; retry with the same idempotency key."
    return StripeFailed(
        message,
        stripe_code=exc.code,
        decline_code=decline_code,
        retryable=retryable,
        payment_intent_id=intent_id,
    )


class StripeGateway:
    """The Stripe operations services need, on one `stripe.StripeClient`."""

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        http: StripeHTTP,
        deadline: float,
    ) -> None:
        self._client = client
        self._http = http
        self._deadline = deadline

    @classmethod
    def create(
        cls,
        api_key: str,
        *,
        api_base: str | None = None,
        api_version: str | None = None,
        timeout: float = 10.0,
        max_network_retries: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> StripeGateway:
        http = http_client(timeout=timeout, transport=transport, api_base=api_base)
        client = stripe_client(
            api_key,
            api_base=api_base,
            api_version=api_version,
            max_network_retries=max_network_retries,
            http=http,
        )
        # The whole call, retries included, ends within this many seconds whatever the
        # transport does (an in-process transport has no socket timeouts).
        deadline = timeout * (max_network_retries + 1) + 2.0 * max_network_retries
        return cls(client, http=http, deadline=deadline)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(
        self, path: str, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """A write to Stripe: always with the idempotency key derived from our record."""
        return await self._request("post", path, {**params, "idempotency_key": idempotency_key})

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._request("get", path, dict(params or {}))

    async def _request(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """One call through the SDK (its encoding, retries, errors), answered as plain JSON:
        building StripeObjects only to turn them back into dicts cost a tenth of a checkout."""
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._client.raw_request_async(method, path, **params)
                data: dict[str, Any] = response.data
                return data
        except stripe.StripeError as exc:
            raise provider_error(exc) from exc
        except TimeoutError:
            log.debug("Stripe did not answer within %.1f s", self._deadline)
            raise StripeFailed(
                "The payment provider did not answer in time; retry with the same idempotency key.",
                retryable=True,
            ) from None

    async def create_customer(
        self, *, user_id: str, idempotency_key: str, email: str | None = None
    ) -> str:
        params: dict[str, Any] = {"metadata": {"payments_user_id": user_id}}
        if email:
            params["email"] = email
        customer = await self._post("/v1/customers", params, idempotency_key)
        return str(customer["id"])

    async def create_checkout_session(
        self,
        *,
        amount: int,
        currency: str,
        name: str,
        description: str | None,
        customer_id: str,
        success_url: str,
        cancel_url: str,
        metadata: Mapping[str, str],
        client_reference_id: str,
        idempotency_key: str,
    ) -> StripeCheckoutSession:
        product: dict[str, Any] = {"name": name}
        if description:
            product["description"] = description
        params: dict[str, Any] = {
            "mode": "payment",
            "customer": customer_id,
            "client_reference_id": client_reference_id,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": dict(metadata),
            "payment_intent_data": {"metadata": dict(metadata)},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": amount,
                        "product_data": product,
                    },
                }
            ],
        }
        session = await self._post("/v1/checkout/sessions", params, idempotency_key)
        return StripeCheckoutSession.from_stripe(session)

    async def retrieve_checkout_session(self, session_id: str) -> StripeCheckoutSession:
        session = await self._get(
            f"/v1/checkout/sessions/{_id(session_id)}",
            {"expand": ["payment_intent.latest_charge"]},
        )
        return StripeCheckoutSession.from_stripe(session)

    async def retrieve_payment_intent(self, payment_intent_id: str) -> StripePaymentIntent:
        intent = await self._get(f"/v1/payment_intents/{_id(payment_intent_id)}", EXPAND_CHARGE)
        return StripePaymentIntent.from_stripe(intent)

    async def authorize_payment(
        self,
        *,
        amount: int,
        currency: str,
        customer_id: str,
        payment_method_id: str,
        description: str | None,
        return_url: str | None,
        transfer_group: str | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> StripePaymentIntent:
        """Create and confirm a PaymentIntent that holds the amount (manual capture)."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "capture_method": "manual",
            "confirm": True,
            "metadata": dict(metadata),
            "expand": EXPAND_CHARGE["expand"],
        }
        if description:
            params["description"] = description
        if return_url:
            params["return_url"] = return_url
        else:
            # Without a page to come back to, only methods that need no redirect may be used.
            params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
        if transfer_group:
            params["transfer_group"] = transfer_group
        intent = await self._post("/v1/payment_intents", params, idempotency_key)
        return StripePaymentIntent.from_stripe(intent)

    async def capture_payment(
        self, payment_intent_id: str, *, amount: int, idempotency_key: str
    ) -> StripePaymentIntent:
        intent = await self._post(
            f"/v1/payment_intents/{_id(payment_intent_id)}/capture",
            {"amount_to_capture": amount, **EXPAND_CHARGE},
            idempotency_key,
        )
        return StripePaymentIntent.from_stripe(intent)

    async def cancel_payment(
        self, payment_intent_id: str, *, idempotency_key: str
    ) -> StripePaymentIntent:
        intent = await self._post(
            f"/v1/payment_intents/{_id(payment_intent_id)}/cancel",
            {"cancellation_reason": "requested_by_customer"},
            idempotency_key,
        )
        return StripePaymentIntent.from_stripe(intent)

    # -- saved cards and off-session payments -------------------------------------------------

    async def create_setup_session(
        self,
        *,
        customer_id: str,
        currency: str,
        success_url: str,
        cancel_url: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> StripeSetupSession:
        """A Checkout Session in setup mode: the card is saved to the customer for off-session
        use; the StripeSetupIntent is expanded so its client secret can serve Stripe.js too."""
        params: dict[str, Any] = {
            "mode": "setup",
            "customer": customer_id,
            "currency": currency.lower(),
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": dict(metadata),
            "setup_intent_data": {"metadata": dict(metadata)},
            "expand": ["setup_intent"],
        }
        session = await self._post("/v1/checkout/sessions", params, idempotency_key)
        return StripeSetupSession.from_stripe(session)

    async def retrieve_setup_intent(self, setup_intent_id: str) -> StripeSetupIntent:
        intent = await self._get(
            f"/v1/setup_intents/{_id(setup_intent_id)}", {"expand": ["payment_method"]}
        )
        return StripeSetupIntent.from_stripe(intent)

    async def retrieve_payment_method(self, payment_method_id: str) -> StripePaymentMethod:
        method = await self._get(f"/v1/payment_methods/{_id(payment_method_id)}")
        return StripePaymentMethod.from_stripe(method)

    async def retrieve_customer(self, customer_id: str) -> StripeCustomer:
        customer = await self._get(f"/v1/customers/{_id(customer_id)}")
        return StripeCustomer.from_stripe(customer)

    async def set_default_payment_method(
        self, customer_id: str, payment_method_id: str, *, idempotency_key: str
    ) -> StripeCustomer:
        customer = await self._post(
            f"/v1/customers/{_id(customer_id)}",
            {"invoice_settings": {"default_payment_method": payment_method_id}},
            idempotency_key,
        )
        return StripeCustomer.from_stripe(customer)

    async def detach_payment_method(
        self, payment_method_id: str, *, idempotency_key: str
    ) -> StripePaymentMethod:
        method = await self._post(
            f"/v1/payment_methods/{_id(payment_method_id)}/detach", {}, idempotency_key
        )
        return StripePaymentMethod.from_stripe(method)

    async def charge_off_session(
        self,
        *,
        amount: int,
        currency: str,
        customer_id: str,
        payment_method_id: str,
        description: str | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> StripePaymentIntent:
        """Charge a saved card while the customer is away (a CardDeclinedError carries the
        StripePaymentIntent id, which stays usable for an on-session confirmation)."""
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "off_session": True,
            "confirm": True,
            "metadata": dict(metadata),
            "expand": EXPAND_CHARGE["expand"],
        }
        if description:
            params["description"] = description
        intent = await self._post("/v1/payment_intents", params, idempotency_key)
        return StripePaymentIntent.from_stripe(intent)

    async def confirm_on_session(
        self,
        payment_intent_id: str,
        *,
        payment_method_id: str,
        return_url: str,
        idempotency_key: str,
    ) -> StripePaymentIntent:
        """Confirm again with the customer present: a card that needs 3-D Secure answers
        `requires_action` with the page to send the customer to."""
        intent = await self._post(
            f"/v1/payment_intents/{_id(payment_intent_id)}/confirm",
            {
                "payment_method": payment_method_id,
                "return_url": return_url,
                "expand": EXPAND_CHARGE["expand"],
            },
            idempotency_key,
        )
        return StripePaymentIntent.from_stripe(intent)

    async def retrieve_account(self, account_id: str) -> StripeAccount:
        account = await self._get(f"/v1/accounts/{_id(account_id)}")
        return StripeAccount.from_stripe(account)

    async def create_transfer(
        self,
        *,
        amount: int,
        currency: str,
        destination: str,
        transfer_group: str,
        source_transaction: str | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> StripeTransfer:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "destination": destination,
            "transfer_group": transfer_group,
            "metadata": dict(metadata),
        }
        if source_transaction:
            params["source_transaction"] = source_transaction
        transfer = await self._post("/v1/transfers", params, idempotency_key)
        return StripeTransfer.from_stripe(transfer)

    async def reverse_transfer(
        self, transfer_id: str, *, amount: int, metadata: Mapping[str, str], idempotency_key: str
    ) -> StripeTransfer:
        """Take `amount` back from a connected account; the transfer as it is afterwards."""
        await self._post(
            f"/v1/transfers/{_id(transfer_id)}/reversals",
            {"amount": amount, "metadata": dict(metadata)},
            idempotency_key,
        )
        transfer = await self._get(f"/v1/transfers/{_id(transfer_id)}")
        return StripeTransfer.from_stripe(transfer)

    async def create_refund(
        self,
        *,
        payment_intent_id: str,
        amount: int,
        reason: str | None,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> StripeRefund:
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "amount": amount,
            "metadata": dict(metadata),
        }
        if reason:
            params["reason"] = reason
        refund = await self._post("/v1/refunds", params, idempotency_key)
        return StripeRefund.from_stripe(refund)

    async def list_refunds(self, payment_intent_id: str) -> list[StripeRefund]:
        """Every refund of a PaymentIntent, as Stripe holds them now."""
        found: list[StripeRefund] = []
        params: dict[str, Any] = {"payment_intent": payment_intent_id, "limit": 100}
        while True:
            page = await self._get("/v1/refunds", params)
            found.extend(StripeRefund.from_stripe(r) for r in page["data"])
            if not page["has_more"] or not page["data"]:
                return found
            params = {**params, "starting_after": page["data"][-1]["id"]}

    async def list_events(
        self, *, created_gte: int, types: list[str] | None = None, limit: int = 10_000
    ) -> list[dict[str, Any]]:
        """Events created at or after `created_gte` (unix seconds), oldest first; <= `limit`."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"created": {"gte": created_gte}, "limit": 100}
        if types:
            params["types"] = types
        while len(found) < limit:
            page = await self._get("/v1/events", params)
            found.extend(page["data"])
            if not page["has_more"] or not page["data"]:
                break
            params = {**params, "starting_after": page["data"][-1]["id"]}
        found.reverse()
        return found


def verify_webhook(
    payload: bytes, signature: str | None, secrets: list[str], *, tolerance: int = 300
) -> dict[str, Any]:
    """The event in a webhook body whose `Stripe-Signature` verifies with one of `secrets`."""
    if not signature:
        raise WebhookSignatureInvalid("Missing Stripe-Signature header.")
    if not secrets:
        raise WebhookSignatureInvalid("No webhook signing secret is configured.")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookSignatureInvalid("The body is not UTF-8.") from None
    last: Exception | None = None
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature, secret, tolerance)
            break
        except stripe.SignatureVerificationError as exc:
            last = exc
    else:
        raise WebhookSignatureInvalid(f"Signature verification failed: {last}") from last
    try:
        event = json.loads(text)
    except ValueError:
        raise WebhookSignatureInvalid("The body is not JSON.") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise WebhookSignatureInvalid("The body is not a Stripe event.")
    data = event.get("data")
    if not isinstance(event.get("type"), str) or not isinstance(data, dict):
        raise WebhookSignatureInvalid("The body is not a Stripe event.")
    if not isinstance(data.get("object"), dict):
        raise WebhookSignatureInvalid("The body is not a Stripe event.")
    return event


def sign_webhook(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload` (for tests and the sandbox)."""
    return str(stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp))
