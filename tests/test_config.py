"""Settings: defaults, sources, and contradictions that stop the start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphql_payments.config import Settings
from graphql_payments.errors import SettingsConflict


def test_defaults_run_in_sandbox_mode_on_sqlite() -> None:
    settings = Settings(_env_file=None)
    assert settings.sandbox_mode is True
    assert settings.database_url == "sqlite+aiosqlite:///./payments.db"
    assert [p.id for p in settings.credit_packages] == ["basic", "standard"]
    assert settings.credits_per_unit == 10


def test_a_test_key_with_a_webhook_secret_talks_to_stripe() -> None:
    settings = Settings(
        _env_file=None,
        stripe_secret_key="sk_test_abc",
        stripe_webhook_secret="whsec_first_secret_1,whsec_second_secret_2",
    )
    assert settings.sandbox_mode is False
    assert settings.webhook_secrets == ["whsec_first_secret_1", "whsec_second_secret_2"]


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"stripe_secret_key": "sk_live_abc", "sandbox": True}, "live key"),
        (
            {
                "stripe_secret_key": "sk_live_abc",
                "stripe_api_base": "http://x",
                "stripe_webhook_secret": "whsec_first_secret_1",
            },
            "live key",
        ),
        ({"sandbox": False}, "needs STRIPE_SECRET_KEY"),
        ({"stripe_secret_key": "sk_test_abc"}, "STRIPE_WEBHOOK_SECRET"),
        (
            {"stripe_secret_key": "pk_test_abc", "stripe_webhook_secret": "whsec_first_secret_1"},
            "secret key",
        ),
        ({"min_payment_amount": 500, "max_payment_amount": 100}, "PAYMENTS_MIN_PAYMENT_AMOUNT"),
        ({"admin_roles": "admin,staff", "user_roles": "user,staff"}, "share staff"),
        ({"user_roles": ""}, "must each name a role"),
        ({"user_roles": "user,anonymous"}, "'anonymous'"),
    ],
)
def test_contradictions_stop_the_start(values: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SettingsConflict) as raised:
        Settings(_env_file=None, **values)
    assert fragment in str(raised.value)


def test_environment_env_file_and_secrets_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    (tmp_path / ".env").write_text("PAYMENTS_PORT=9001\nPAYMENTS_CREDITS_PER_UNIT=20\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "PAYMENTS_JWT_SECRET").write_text("from-a-secret-file-long-enough-for-hs256")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAYMENTS_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("PAYMENTS_CREDITS_PER_UNIT", "25")
    monkeypatch.setenv(
        "PAYMENTS_CREDIT_PACKAGES",
        '[{"id": "big", "name": "Big", "credits": 1000, "amount": 800000, "currency": "jpy"}]',
    )
    # when
    settings = Settings.load()
    # then
    assert settings.port == 9001
    assert settings.credits_per_unit == 25
    assert settings.jwt_secret is not None
    assert settings.jwt_secret.get_secret_value() == "from-a-secret-file-long-enough-for-hs256"
    assert settings.credit_packages[0].currency == "JPY"
