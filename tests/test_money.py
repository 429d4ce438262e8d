"""Money: minor units, currency exponents and formatting."""

from __future__ import annotations

import pytest

from graphql_payments.errors import InvalidInput
from graphql_payments.money import exponent, format_amount, normalize_currency


@pytest.mark.parametrize(
    ("currency", "places"), [("USD", 2), ("usd", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3)]
)
def test_exponent_knows_zero_and_three_decimal_currencies(currency: str, places: int) -> None:
    assert exponent(currency) == places


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (1000, "USD", "10.00 USD"),
        (123456789, "USD", "1,234,567.89 USD"),
        (1000, "JPY", "1,000 JPY"),
        (1500, "KWD", "1.500 KWD"),
        (-250, "EUR", "-2.50 EUR"),
        (0, "USD", "0.00 USD"),
    ],
)
def test_format_amount(amount: int, currency: str, text: str) -> None:
    assert format_amount(amount, currency) == text


def test_normalize_currency() -> None:
    assert normalize_currency(" eur ") == "EUR"
    with pytest.raises(InvalidInput) as raised:
        normalize_currency("XYZ")
    assert raised.value.field == "currency"
