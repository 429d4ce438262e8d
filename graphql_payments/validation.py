"""Input checks shared by the domains: redirect URLs, amounts, short texts.

Each returns the cleaned value or raises `InvalidInput` naming the GraphQL input field.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from graphql_payments.errors import InvalidInput

MAX_URL_LENGTH = 2048
MAX_TEXT_LENGTH = 255
STRIPE_MAX_AMOUNT = 99_999_999


def redirect_url(url: str, *, field: str, allowed_hosts: list[str]) -> str:
    """An absolute http(s) URL, on one of `allowed_hosts` when any are given."""
    parts = urlsplit(url.strip())
    if (
        len(url) > MAX_URL_LENGTH
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in url.strip())
    ):
        raise InvalidInput(f"{field} must be an absolute http(s) URL.", field=field)
    if allowed_hosts and parts.hostname.lower() not in allowed_hosts:
        raise InvalidInput(
            f"{field} must point at one of: {', '.join(allowed_hosts)}.", field=field
        )
    return url.strip()


def amount(value: int, field: str = "amount") -> int:
    """A positive amount in minor units that Stripe accepts."""
    if value <= 0:
        raise InvalidInput(f"{field} must be a positive number of minor units.", field=field)
    if value > STRIPE_MAX_AMOUNT:
        raise InvalidInput(f"{field} is above the largest amount Stripe accepts.", field=field)
    return value


def optional_text(value: str | None, field: str) -> str | None:
    """Stripped text of at most MAX_TEXT_LENGTH characters; None when empty."""
    stripped = (value or "").strip()
    if len(stripped) > MAX_TEXT_LENGTH:
        raise InvalidInput(f"{field} is longer than {MAX_TEXT_LENGTH}.", field=field)
    return stripped or None


def required_text(value: str | None, field: str) -> str:
    stripped = optional_text(value, field)
    if stripped is None:
        raise InvalidInput(f"{field} is required.", field=field)
    return stripped
