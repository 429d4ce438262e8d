"""Escrow flows through GraphQL, shared by the escrow and refund tests."""

from __future__ import annotations

from typing import Any

from graphql_payments.sandbox import Sandbox
from tests.helpers import PAYMENT_FIELDS, GraphQLClient, as_admin, as_user, sandbox_client

AUTHORIZE = """
mutation($input: AuthorizeInput!) {
  authorize(input: $input) {
    __typename
    ... on AuthorizeSuccess {
      clientSecret nextActionUrl
      payment { id userId status orderId amount { amount currency } holdExpiresAt
                stripePaymentIntentId failureCode declineCode }
    }
    ... on UserError { code message }
    ... on ValidationError { field }
    ... on PaymentProviderError { declineCode stripeCode }
  }
}
"""

ESCROW_FIELDS = """
  id status orderId runnerId transferId
  capturedAmount { amount } platformFee { amount } transferredAmount { amount }
  transferReversedAmount { amount } refundedAmount { amount }
"""

RELEASE = f"""
mutation($input: ReleaseInput!) {{
  release(input: $input) {{
    __typename
    ... on ReleaseSuccess {{ payment {{ {ESCROW_FIELDS} }} }}
    ... on UserError {{ code message }}
    ... on ValidationError {{ field }}
  }}
}}
"""

REVERT = f"""
mutation($input: RevertInput!) {{
  revert(input: $input) {{
    __typename
    ... on RevertSuccess {{ payment {{ {ESCROW_FIELDS} }} }}
    ... on UserError {{ code message }}
  }}
}}
"""

BY_ORDER = (
    f"query($o: String) {{ paymentStatus(orderId: $o) {{ {PAYMENT_FIELDS} {ESCROW_FIELDS} }} }}"
)


async def authorize(
    gql: GraphQLClient,
    *,
    order: str = "order-1",
    amount: int = 2500,
    currency: str = "usd",
    payment_method: str = "pm_card_visa",
    key: str | None = None,
    user: str = "alice",
    headers: dict[str, str] | None = None,
    **more: Any,
) -> dict[str, Any]:
    variables = {
        "input": {
            "orderId": order,
            "amount": amount,
            "currency": currency,
            "paymentMethodId": payment_method,
            "idempotencyKey": key or f"auth-{order}",
            "returnUrl": "https://shop.example/orders",
            **more,
        }
    }
    data = await gql.data(AUTHORIZE, variables, headers=headers or as_user(user))
    result: dict[str, Any] = data["authorize"]
    return result


async def release(gql: GraphQLClient, order: str = "order-1", **more: Any) -> dict[str, Any]:
    variables = {"input": {"orderId": order, "runnerId": "runner-7", **more}}
    result: dict[str, Any] = (await gql.data(RELEASE, variables, headers=as_admin()))["release"]
    return result


async def revert(gql: GraphQLClient, order: str = "order-1") -> dict[str, Any]:
    variables = {"input": {"orderId": order, "reason": "order canceled"}}
    result: dict[str, Any] = (await gql.data(REVERT, variables, headers=as_admin()))["revert"]
    return result


async def order_status(gql: GraphQLClient, order: str = "order-1") -> dict[str, Any]:
    """The escrow payment of an order, as an admin sees it."""
    result: dict[str, Any] = (await gql.data(BY_ORDER, {"o": order}, headers=as_admin()))[
        "paymentStatus"
    ]
    return result


async def runner_account(sandbox: Sandbox) -> str:
    """A runner's Express account, onboarded (transfers active)."""
    account = await sandbox_client(sandbox).v1.accounts.create_async(
        params={"type": "express", "country": "US"}
    )
    await sandbox.complete_onboarding(account.id)
    return str(account.id)


async def stripe_view(sandbox: Sandbox, payment_intent_id: str) -> dict[str, Any]:
    """What Stripe holds for one escrow: the intent, its transfers and refunds."""
    client = sandbox_client(sandbox)
    intent = await client.v1.payment_intents.retrieve_async(payment_intent_id)
    transfers = [
        t
        for t in (await client.v1.transfers.list_async(params={"limit": 100})).data
        if t.metadata["payments_payment_id"] == intent.metadata["payments_payment_id"]
    ]
    refunds = (
        await client.v1.refunds.list_async(params={"payment_intent": payment_intent_id})
    ).data
    return {"intent": intent, "transfers": transfers, "refunds": refunds}
