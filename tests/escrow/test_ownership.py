"""An order belongs to the user who first authorized it; a Stripe error that will not go away
on retry ends the payment FAILED and frees the order."""

from __future__ import annotations

from tests.escrow.flows import AUTHORIZE, BY_ORDER, authorize, revert
from tests.helpers import FAILURES, GraphQLClient, as_admin, as_user


async def test_another_users_authorize_on_an_order_is_not_found(gql: GraphQLClient) -> None:
    # given
    bobs = await authorize(gql, order="order-A-2", amount=50, user="bob")

    # when
    alices = await authorize(gql, order="order-A-2", amount=2500, user="alice")
    for_alice_by_admin = await authorize(
        gql, order="order-A-2", key="admin-key", headers=as_admin(), userId="alice"
    )

    # then
    assert bobs["__typename"] == "AuthorizeSuccess"
    assert alices["__typename"] == "NotFoundError"
    assert alices["code"] == "NOT_FOUND"
    assert "AUTHORIZED" not in alices["message"]
    assert for_alice_by_admin["__typename"] == "NotFoundError"
    seen_by_alice = await gql.data(BY_ORDER, {"o": "order-A-2"}, headers=as_user("alice"))
    assert seen_by_alice["paymentStatus"] is None


async def test_the_owner_may_authorize_the_order_again_once_freed(gql: GraphQLClient) -> None:
    # given
    await authorize(gql, order="order-9", user="bob")
    await revert(gql, "order-9")

    # when
    again = await authorize(gql, order="order-9", user="bob", key="auth-order-9-again")
    other = await authorize(gql, order="order-9", user="alice", key="alice-key")

    # then
    assert again["__typename"] == "AuthorizeSuccess"
    assert other["__typename"] == "NotFoundError"


async def test_a_payment_method_stripe_does_not_know_fails_the_payment(
    gql: GraphQLClient,
) -> None:
    # when
    first = await authorize(gql, order="order-5", payment_method="pm_does_not_exist")
    same_key = await authorize(gql, order="order-5", payment_method="pm_does_not_exist")
    new_key = await authorize(gql, order="order-5", key="auth-order-5-b")

    # then
    assert first["__typename"] == "PaymentProviderError"
    assert first["stripeCode"] == "resource_missing"
    assert same_key["__typename"] == "PaymentProviderError"
    assert same_key["stripeCode"] == "resource_missing"
    assert new_key["__typename"] == "AuthorizeSuccess"
    assert new_key["payment"]["status"] == "AUTHORIZED"
    failures = (await gql.data(FAILURES, headers=as_admin()))["failedPayments"]
    (failure,) = [e["node"] for e in failures["edges"]]
    assert failure["code"] == "resource_missing"
    assert failure["payment"]["status"] == "FAILED"
    assert failure["payment"]["kind"] == "ESCROW"


async def test_runner_ids_longer_than_the_column_are_a_validation_error(
    gql: GraphQLClient,
) -> None:
    # given
    await authorize(gql, order="order-7")
    release = """
    mutation($input: ReleaseInput!) {
      release(input: $input) { __typename ... on ValidationError { code field message } }
    }
    """

    # when
    body = await gql(
        release, {"input": {"orderId": "order-7", "runnerId": "r" * 200}}, headers=as_admin()
    )

    # then
    assert body["data"]["release"]["__typename"] == "ValidationError"
    assert body["data"]["release"]["field"] == "runnerId"
    assert len(body["data"]["release"]["message"]) < 300


_ = AUTHORIZE
