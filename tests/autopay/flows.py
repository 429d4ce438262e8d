"""Saved cards, consumption and autopay through GraphQL, shared by the autopay tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from tests.helpers import GraphQLClient, as_admin, as_user

ADD_PAYMENT_METHOD = """
mutation($input: AddPaymentMethodInput!) {
  addPaymentMethod(input: $input) {
    __typename
    ... on AddPaymentMethodSuccess { setupUrl clientSecret sessionId }
    ... on UserError { code message }
    ... on ValidationError { field }
  }
}
"""

PAYMENT_METHODS = """
query($userId: String) {
  paymentMethods(userId: $userId) { id brand last4 expMonth expYear isDefault createdAt }
}
"""

SET_DEFAULT = """
mutation($input: SetDefaultPaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) {
    __typename
    ... on SetDefaultPaymentMethodSuccess { paymentMethod { id isDefault } }
    ... on UserError { code message }
  }
}
"""

REMOVE = """
mutation($input: RemovePaymentMethodInput!) {
  removePaymentMethod(input: $input) {
    __typename
    ... on RemovePaymentMethodSuccess { paymentMethodId }
    ... on UserError { code message }
  }
}
"""

CONSUME = """
mutation($input: ConsumeCreditsInput!) {
  consumeCredits(input: $input) {
    __typename
    ... on ConsumeCreditsSuccess {
      balance
      entry { id userId credits reason reference paymentId createdAt }
    }
    ... on UserError { code message }
    ... on ValidationError { field }
  }
}
"""

HISTORY = """
query($first: Int, $after: String, $userId: String) {
  creditHistory(first: $first, after: $after, userId: $userId) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id credits reason reference paymentId } }
  }
}
"""

AUTOPAY_FIELDS = """
  id enabled credits packageId amount { amount currency } dayOfMonth belowBalance
  paymentMethod { id last4 isDefault } status pausedReason nextChargeAt retryAt failureCount
  lastPayment {
    id kind status credits amount { amount currency } failureCode declineCode
    nextActionUrl clientSecret stripePaymentIntentId autopayId
  }
"""

AUTOPAY = f"""
query($userId: String) {{ autopay(userId: $userId) {{ {AUTOPAY_FIELDS} }} }}
"""

SET_AUTOPAY = f"""
mutation($input: AutopayInput!) {{
  autopay(input: $input) {{
    __typename
    ... on AutopaySuccess {{ autopay {{ {AUTOPAY_FIELDS} }} }}
    ... on UserError {{ code message }}
    ... on ValidationError {{ field }}
  }}
}}
"""

AUTOPAY_PAYMENTS = """
query {
  paymentHistory(kind: [AUTOPAY]) {
    totalCount edges { node { id status credits failureCode declineCode } }
  }
}
"""

RETURN_URL = "https://shop.example/cards"


async def settle(services: Services) -> None:
    """Wait until webhooks are delivered and background autopay checks are done."""
    assert services.sandbox is not None
    for _ in range(3):
        await services.sandbox.webhooks.wait_idle()
        await services.autopay.wait_idle()
    await services.sandbox.webhooks.wait_idle()


async def add_payment_method(
    gql: GraphQLClient, user_id: str = "alice", *, key: str = "card-1"
) -> dict[str, Any]:
    data = await gql.data(
        ADD_PAYMENT_METHOD,
        {"input": {"returnUrl": RETURN_URL, "idempotencyKey": key}},
        headers=as_user(user_id),
    )
    result: dict[str, Any] = data["addPaymentMethod"]
    return result


async def save_card(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    services: Services,
    user_id: str = "alice",
    *,
    card: str = "4242424242424242",
    key: str | None = None,
) -> str:
    """Save a card the way a customer does: the hosted setup page, then Stripe's webhooks."""
    before = {m["id"] for m in await payment_methods(gql, user_id)}
    started = await add_payment_method(gql, user_id, key=key or f"save-{card}")
    assert started["__typename"] == "AddPaymentMethodSuccess", started
    answer = await http.post(
        f"/_sandbox/checkout/sessions/{started['sessionId']}/pay", data={"card": card}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == RETURN_URL
    await settle(services)
    [new] = [m for m in await payment_methods(gql, user_id) if m["id"] not in before]
    assert new["last4"] == card[-4:]
    return str(new["id"])


async def payment_methods(gql: GraphQLClient, user_id: str = "alice") -> list[dict[str, Any]]:
    data = await gql.data(PAYMENT_METHODS, headers=as_user(user_id))
    methods: list[dict[str, Any]] = data["paymentMethods"]
    return methods


async def consume(
    gql: GraphQLClient, user_id: str, credits: int, *, key: str, reference: str = "job"
) -> dict[str, Any]:
    data = await gql.data(
        CONSUME,
        {
            "input": {
                "userId": user_id,
                "credits": credits,
                "reference": reference,
                "idempotencyKey": key,
            }
        },
        headers=as_admin(),
    )
    result: dict[str, Any] = data["consumeCredits"]
    return result


async def set_autopay(gql: GraphQLClient, user_id: str = "alice", **fields: Any) -> dict[str, Any]:
    fields.setdefault("idempotencyKey", f"autopay-{sorted(fields.items())}")
    data = await gql.data(SET_AUTOPAY, {"input": fields}, headers=as_user(user_id))
    result: dict[str, Any] = data["autopay"]
    return result


async def autopay(gql: GraphQLClient, user_id: str = "alice") -> Any:
    return (await gql.data(AUTOPAY, headers=as_user(user_id)))["autopay"]


async def autopay_payments(gql: GraphQLClient, user_id: str = "alice") -> list[dict[str, Any]]:
    data = await gql.data(AUTOPAY_PAYMENTS, headers=as_user(user_id))
    return [edge["node"] for edge in data["paymentHistory"]["edges"]]


def sandbox_now(sandbox: Sandbox) -> dt.datetime:
    return dt.datetime.fromtimestamp(sandbox.clock.now(), dt.UTC)


def quiet_day(sandbox: Sandbox) -> dt.datetime:
    """Move the sandbox clock to noon on the 2nd of next month, and return that moment.

    A monthly autopay made on its own day of the month is charged at once, and one for the
    31st on a month's last day: tests that make one start on the 2nd, which none of them
    names, and at noon, so that "the same day" holds while they run."""
    now = sandbox_now(sandbox)
    moment = (now.replace(day=1) + dt.timedelta(days=32)).replace(
        day=2, hour=12, minute=0, second=0, microsecond=0
    )
    sandbox.clock.advance(int(moment.timestamp()) - sandbox.clock.now())
    return moment


async def advance_to(services: Services, moment: dt.datetime) -> None:
    """Move the sandbox clock to `moment` (as Stripe test clocks do); due autopays run."""
    assert services.sandbox is not None
    seconds = int((moment - sandbox_now(services.sandbox)).total_seconds())
    assert seconds >= 0, f"{moment} is in the sandbox's past"
    await services.sandbox.advance_clock(seconds)
    await settle(services)
