"""Event tests retry at once (no backoff wait) and have a 10% escrow fee."""

from __future__ import annotations

import pytest

from graphql_payments.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"events_retry_base": 0.0, "platform_fee_bps": 1000})
