"""Scalars that accept only what the database can hold.

`DateTime` is Strawberry's, except that a value must be a moment that exists in UTC (between
years 1 and 9999 once converted; `0001-01-01T00:00:00+14:00` does not), and a value without a
time zone is taken as UTC.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from strawberry.schema.types.base_scalars import DateTimeDefinition, wrap_parser
from strawberry.types.scalar import ScalarDefinition

# A moment the database and Python both hold, in UTC, with a day to spare at either end.
EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)


def parse_datetime(value: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        in_utc = moment.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ValueError("It is outside the years 1 to 9999 in UTC.") from None
    if not EARLIEST <= in_utc <= LATEST:
        raise ValueError("It is outside the years 1 to 9999 in UTC.")
    return in_utc


def _parse(value: object) -> object:
    if isinstance(value, str) and len(value) > 64:
        value = value[:64] + "..."
    return wrap_parser(parse_datetime, "DateTime", (ValueError, OverflowError))(value)


DateTime: ScalarDefinition = dataclasses.replace(DateTimeDefinition, parse_value=_parse)

SCALAR_OVERRIDES = {dt.datetime: DateTime}
