"""The payment factory reaches every status a payment can be in through the real flows."""

from __future__ import annotations

import pytest

from graphql_payments.payments.models import PaymentStatus
from graphql_payments.sandbox import Sandbox
from tests.factories import payment_in
from tests.helpers import GraphQLClient

# CANCELED: no flow of this server moves a payment there yet.
REACHABLE = [status for status in PaymentStatus if status is not PaymentStatus.CANCELED]


@pytest.mark.parametrize("status", REACHABLE, ids=lambda status: status.value)
async def test_the_factory_makes_a_payment_in_every_status(
    gql: GraphQLClient, sandbox: Sandbox, status: PaymentStatus
) -> None:
    # when
    made = await payment_in(gql, sandbox, status)
    # then
    assert made["status"] == status.value
