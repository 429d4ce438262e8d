"""The platform fee: basis points of the captured amount, rounded in the platform's favour."""

from __future__ import annotations

import pytest

from graphql_payments.escrow.service import platform_fee


@pytest.mark.parametrize(
    ("amount", "bps", "fee"),
    [
        (2500, 1000, 250),
        (1999, 1000, 200),
        (1, 1, 1),
        (10_000, 0, 0),
        (333, 250, 9),
        (100, 10_000, 100),
    ],
)
def test_platform_fee_rounds_up(amount: int, bps: int, fee: int) -> None:
    assert platform_fee(amount, bps) == fee
