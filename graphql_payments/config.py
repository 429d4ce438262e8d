"""Settings, read from the environment, a `.env` file and a secrets directory.

Every variable is documented in the README. Stripe's own variables keep Stripe's names
(`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_VERSION`); ours start with `PAYMENTS_`.
With no `STRIPE_SECRET_KEY` the server runs against its built-in Stripe sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graphql_payments.errors import SettingsConflict
from graphql_payments.money import format_amount, normalize_currency

SANDBOX_API_KEY = "sk_test_sandbox"


class CreditPackage(BaseModel):
    """A package of credits sold at a fixed price (minor units of `currency`)."""

    id: str
    name: str
    credits: int = Field(gt=0)
    amount: int = Field(gt=0)
    currency: str = "USD"
    description: str = ""

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)


DEFAULT_PACKAGES = [
    CreditPackage(
        id="basic",
        name="Basic",
        credits=100,
        amount=1000,
        description="100 credits for 10.00 USD",
    ),
    CreditPackage(
        id="standard",
        name="Standard",
        credits=500,
        amount=4500,
        description="500 credits for 45.00 USD (10% off)",
    ),
]


def _env(name: str, *more: str) -> Any:
    return Field(validation_alias=AliasChoices(name, *more))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./payments.db", validation_alias="PAYMENTS_DATABASE_URL"
    )
    host: str = Field("127.0.0.1", validation_alias="PAYMENTS_HOST")
    port: int = Field(8000, validation_alias="PAYMENTS_PORT", ge=1, le=65535)
    public_url: str | None = Field(None, validation_alias="PAYMENTS_PUBLIC_URL")
    log_level: str = Field("INFO", validation_alias="PAYMENTS_LOG_LEVEL")

    stripe_secret_key: SecretStr | None = Field(None, validation_alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias="STRIPE_WEBHOOK_SECRET"
    )
    stripe_api_version: str | None = Field(None, validation_alias="STRIPE_API_VERSION")
    stripe_api_base: str | None = Field(None, validation_alias="STRIPE_API_BASE")
    stripe_timeout: float = Field(10.0, validation_alias="PAYMENTS_STRIPE_TIMEOUT", gt=0, le=80)
    stripe_max_retries: int = Field(1, validation_alias="PAYMENTS_STRIPE_MAX_RETRIES", ge=0, le=5)
    sandbox: bool | None = Field(None, validation_alias="PAYMENTS_SANDBOX")
    webhook_tolerance: int = Field(300, validation_alias="PAYMENTS_WEBHOOK_TOLERANCE", ge=1)
    webhook_max_attempts: int = Field(8, validation_alias="PAYMENTS_WEBHOOK_MAX_ATTEMPTS", ge=1)
    webhook_max_body: int = Field(512 * 1024, validation_alias="PAYMENTS_WEBHOOK_MAX_BODY", ge=1024)

    jwt_secret: SecretStr | None = Field(None, validation_alias="PAYMENTS_JWT_SECRET")
    jwt_public_key: str | None = Field(None, validation_alias="PAYMENTS_JWT_PUBLIC_KEY")
    jwt_audience: str | None = Field(None, validation_alias="PAYMENTS_JWT_AUDIENCE")
    jwt_issuer: str | None = Field(None, validation_alias="PAYMENTS_JWT_ISSUER")
    shared_secret: SecretStr | None = Field(None, validation_alias="PAYMENTS_SHARED_SECRET")

    currency: str = Field("USD", validation_alias="PAYMENTS_CURRENCY")
    credit_packages: list[CreditPackage] = Field(
        default_factory=lambda: list(DEFAULT_PACKAGES), validation_alias="PAYMENTS_CREDIT_PACKAGES"
    )
    credits_per_unit: int = Field(10, validation_alias="PAYMENTS_CREDITS_PER_UNIT", gt=0)
    min_payment_amount: int = Field(100, validation_alias="PAYMENTS_MIN_PAYMENT_AMOUNT", gt=0)
    max_payment_amount: int = Field(100_000, validation_alias="PAYMENTS_MAX_PAYMENT_AMOUNT", gt=0)
    platform_fee_bps: int = Field(0, validation_alias="PAYMENTS_PLATFORM_FEE_BPS", ge=0, le=10_000)
    checkout_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="PAYMENTS_CHECKOUT_ALLOWED_HOSTS"
    )

    scheduler_interval: float = Field(
        30.0, validation_alias="PAYMENTS_SCHEDULER_INTERVAL", ge=0.05, le=86_400
    )
    autopay_max_per_day: int = Field(3, validation_alias="PAYMENTS_AUTOPAY_MAX_PER_DAY", ge=1)
    autopay_retry_days: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [1, 3, 5], validation_alias="PAYMENTS_AUTOPAY_RETRY_DAYS"
    )
    autopay_return_url: str | None = Field(None, validation_alias="PAYMENTS_AUTOPAY_RETURN_URL")

    @field_validator("stripe_webhook_secret", mode="before")
    @classmethod
    def _split_secrets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("checkout_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("autopay_retry_days", mode="before")
    @classmethod
    def _split_days(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [int(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("autopay_retry_days")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if any(day < 0 for day in value) or value != sorted(value):
            raise ValueError("retry days must be increasing whole numbers of days, e.g. 1,3,5")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return normalize_currency(value)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        problems = self.problems()
        if problems:
            raise SettingsConflict("Invalid configuration:\n  - " + "\n  - ".join(problems))
        return self

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the environment; secrets also come from PAYMENTS_SECRETS_DIR."""
        secrets_dir = os.environ.get("PAYMENTS_SECRETS_DIR")
        if secrets_dir is None and Path("/run/secrets").is_dir():
            secrets_dir = "/run/secrets"
        if secrets_dir is not None:
            return cls(_secrets_dir=secrets_dir, **overrides)
        return cls(**overrides)

    @property
    def sandbox_mode(self) -> bool:
        if self.sandbox is not None:
            return self.sandbox
        return self.stripe_secret_key is None

    @property
    def stripe_key(self) -> str:
        if self.stripe_secret_key is None:
            return SANDBOX_API_KEY
        return self.stripe_secret_key.get_secret_value()

    @property
    def server_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @property
    def webhook_secrets(self) -> list[str]:
        return [secret.get_secret_value() for secret in self.stripe_webhook_secret]

    @property
    def autopay_return_page(self) -> str:
        """Where a customer lands after authenticating an autopay charge."""
        return self.autopay_return_url or f"{self.server_url}/"

    def package(self, package_id: str) -> CreditPackage | None:
        return next((p for p in self.credit_packages if p.id == package_id), None)

    def problems(self) -> list[str]:
        """Every contradiction in these settings, as a sentence a person can act on."""
        found: list[str] = []
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else None
        live = key is not None and key.startswith(("sk_live_", "rk_live_"))
        if key is not None and not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
            found.append("STRIPE_SECRET_KEY does not look like a Stripe secret key (sk_test_...).")
        if live and self.sandbox:
            found.append(
                "STRIPE_SECRET_KEY is a live key but PAYMENTS_SANDBOX=true: never send a live "
                "key to the sandbox. Use an sk_test_ key or unset PAYMENTS_SANDBOX."
            )
        if live and self.stripe_api_base:
            found.append(
                "STRIPE_SECRET_KEY is a live key but STRIPE_API_BASE points elsewhere than "
                "Stripe: unset STRIPE_API_BASE or use a test key."
            )
        if self.sandbox is False and key is None:
            found.append("PAYMENTS_SANDBOX=false needs STRIPE_SECRET_KEY.")
        if key is not None and not self.sandbox_mode and not self.stripe_webhook_secret:
            found.append(
                "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: webhooks could not "
                "be verified. Set it to the endpoint's signing secret (whsec_...)."
            )
        if self.min_payment_amount > self.max_payment_amount:
            found.append(
                "PAYMENTS_MIN_PAYMENT_AMOUNT is above PAYMENTS_MAX_PAYMENT_AMOUNT "
                f"({format_amount(self.min_payment_amount, self.currency)} > "
                f"{format_amount(self.max_payment_amount, self.currency)})."
            )
        ids = [p.id for p in self.credit_packages]
        if len(ids) != len(set(ids)):
            found.append("PAYMENTS_CREDIT_PACKAGES has two packages with the same id.")
        if self.jwt_public_key and not self.jwt_public_key.lstrip().startswith("-----BEGIN"):
            found.append("PAYMENTS_JWT_PUBLIC_KEY must be a PEM public key.")
        return found
