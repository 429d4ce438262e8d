"""Input checks shared by the domains: redirect URLs, amounts, short texts, user ids.

Each returns the cleaned value or raises `InvalidInput` naming the GraphQL input field. Texts
are held to what their database column holds (pass `max_length`), with no NUL characters
(PostgreSQL cannot store them); `quote` is how a message shows what the caller sent (at most
`MAX_QUOTE` characters of it).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from graphql_payments.errors import InvalidInput

MAX_URL_LENGTH = 2048
MAX_TEXT_LENGTH = 255
MAX_USER_ID_LENGTH = 128
MAX_QUOTE = 100
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


def quote(value: object) -> str:
    """`value` as a message shows it: quoted, cut to MAX_QUOTE characters."""
    text = str(value)
    if len(text) > MAX_QUOTE:
        text = text[:MAX_QUOTE] + "..."
    return repr(text)


def optional_text(
    value: str | None, field: str, *, max_length: int = MAX_TEXT_LENGTH
) -> str | None:
    """Stripped text of at most `max_length` characters without NUL; None when empty."""
    stripped = (value or "").strip()
    if len(stripped) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters.", field=field)
    if "\x00" in stripped:
        raise InvalidInput(f"{field} may not contain NUL characters.", field=field)
    return stripped or None


def user_id(value: str, field: str = "userId") -> str:
    """A user id as the database holds it."""
    return required_text(value, field, max_length=MAX_USER_ID_LENGTH)


def required_text(value: str | None, field: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    stripped = optional_text(value, field, max_length=max_length)
    if stripped is None:
        raise InvalidInput(f"{field} is required.", field=field)
    return stripped
