"""Refund and dispute flows through GraphQL, shared by the refund, payment and factory tests."""

from __future__ import annotations

from typing import Any

from graphql_payments.sandbox import Sandbox
from tests.helpers import PAYMENT_FIELDS, GraphQLClient, as_admin, checkout, sandbox_client

REFUND = f"""
mutation($input: RefundInput!) {{
  refund(input: $input) {{
    __typename
    ... on RefundSuccess {{
      payment {{ {PAYMENT_FIELDS} refunds {{ id amount {{ amount }} status reason }} }}
      refund {{ id amount {{ amount currency }} status reason stripeRefundId }}
    }}
    ... on UserError {{ code message }}
    ... on ValidationError {{ field }}
  }}
}}
"""

PAYMENT = f"""
query($id: ID) {{
  paymentStatus(id: $id) {{
    {PAYMENT_FIELDS}
    refunds {{ id amount {{ amount }} status reason failureReason stripeRefundId }}
    disputes {{ id amount {{ amount }} status reason creditsHeld }}
  }}
}}
"""


async def buy(
    gql: GraphQLClient, sandbox: Sandbox, user: str = "alice", key: str = "buy-1"
) -> dict[str, Any]:
    """A paid purchase of the basic package (100 credits for 10.00 USD)."""
    result = await checkout(gql, user, key=key)
    await sandbox.pay_checkout_session(result["sessionId"], card="4242424242424242")
    await sandbox.webhooks.wait_idle()
    return await payment(gql, result["payment"]["id"])


async def payment(gql: GraphQLClient, payment_id: str) -> dict[str, Any]:
    data = await gql.data(PAYMENT, {"id": payment_id}, headers=as_admin())
    result: dict[str, Any] = data["paymentStatus"]
    return result


async def refund(
    gql: GraphQLClient,
    payment_id: str,
    *,
    amount: int | None = None,
    key: str = "refund-1",
    force: bool = False,
    reason: str | None = "requested_by_customer",
) -> dict[str, Any]:
    variables = {
        "input": {
            "paymentId": payment_id,
            "amount": amount,
            "idempotencyKey": key,
            "force": force,
            "reason": reason,
        }
    }
    data = await gql.data(REFUND, variables, headers=as_admin())
    result: dict[str, Any] = data["refund"]
    return result


async def charge_of(sandbox: Sandbox, payment_intent_id: str) -> dict[str, Any]:
    client = sandbox_client(sandbox)
    intent = await client.v1.payment_intents.retrieve_async(payment_intent_id)
    charge = await client.v1.charges.retrieve_async(str(intent.latest_charge))
    return charge.to_dict()


async def open_dispute(
    gql: GraphQLClient, sandbox: Sandbox, paid: dict[str, Any], amount: int | None = None
) -> dict[str, Any]:
    charge = await charge_of(sandbox, paid["stripePaymentIntentId"])
    dispute = await sandbox.create_dispute(charge["id"], amount=amount, reason="fraudulent")
    await sandbox.webhooks.wait_idle()
    return dispute
