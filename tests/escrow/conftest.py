"""Escrow tests run with a 10% platform fee."""

from __future__ import annotations

import pytest

from graphql_payments.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"platform_fee_bps": 1000})
