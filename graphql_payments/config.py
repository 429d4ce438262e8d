"""Settings, read from the environment, a `.env` file and a secrets directory.

Every variable is documented in the README. Stripe's own variables keep Stripe's names
(`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_VERSION`); ours start with `PAYMENTS_`.
With no `STRIPE_SECRET_KEY` the server runs against its built-in Stripe sandbox.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graphql_payments.errors import SettingsConflict
from graphql_payments.money import format_amount, normalize_currency

SANDBOX_API_KEY = "sk_test_sandbox"
MIN_SECRET_LENGTH = 16
MIN_HS256_KEY_BYTES = 32
DEFAULT_MAX_QUERY_COST = 10_000

# Rate limits in the `limits` library's notation, per kind (see the README's "Security").
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "ip": "300/minute",
    "user": "120/minute",
    "stripe": "10/minute;60/hour",
    "auth": "10/minute",
    "service": "6000/minute",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


BROKER_SCHEMES = ("nats://", "tls://", "amqp://", "amqps://", "kafka://", "redis://", "rediss://")

# The server's own pages that Stripe sends customers back to (graphql_payments.web).
PAY_SUCCESS_PATH = "/pay/success"
PAY_CANCEL_PATH = "/pay/cancel"
PAY_RETURN_PATH = "/pay/return"
ASYNC_DRIVERS = {
    "postgresql://": "postgresql+asyncpg://",
    "postgres://": "postgresql+asyncpg://",
    "sqlite:///": "sqlite+aiosqlite:///",
}


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
    workers: int = Field(1, validation_alias="PAYMENTS_WORKERS", ge=1, le=64)
    access_log: bool = Field(False, validation_alias="PAYMENTS_ACCESS_LOG")

    stripe_secret_key: SecretStr | None = Field(None, validation_alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias="STRIPE_WEBHOOK_SECRET"
    )
    stripe_api_version: str | None = Field(None, validation_alias="STRIPE_API_VERSION")
    stripe_api_base: str | None = Field(None, validation_alias="STRIPE_API_BASE")
    stripe_timeout: float = Field(10.0, validation_alias="PAYMENTS_STRIPE_TIMEOUT", gt=0, le=80)
    stripe_max_retries: int = Field(1, validation_alias="PAYMENTS_STRIPE_MAX_RETRIES", ge=0, le=5)
    sandbox: bool | None = Field(None, validation_alias="PAYMENTS_SANDBOX")
    demo: bool | None = Field(None, validation_alias="PAYMENTS_DEMO")
    webhook_tolerance: int = Field(300, validation_alias="PAYMENTS_WEBHOOK_TOLERANCE", ge=1)
    webhook_max_attempts: int = Field(8, validation_alias="PAYMENTS_WEBHOOK_MAX_ATTEMPTS", ge=1)
    webhook_max_body: int = Field(512 * 1024, validation_alias="PAYMENTS_WEBHOOK_MAX_BODY", ge=1024)

    reconcile_interval: float = Field(
        60.0, validation_alias="PAYMENTS_RECONCILE_INTERVAL", gt=0, le=86_400
    )
    reconcile_grace: float = Field(120.0, validation_alias="PAYMENTS_RECONCILE_GRACE", ge=0)
    refund_max_attempts: int = Field(5, validation_alias="PAYMENTS_REFUND_MAX_ATTEMPTS", ge=1)
    webhook_retention_days: int = Field(
        30, validation_alias="PAYMENTS_WEBHOOK_RETENTION_DAYS", ge=1
    )
    metrics: bool = Field(False, validation_alias="PAYMENTS_METRICS")
    metrics_port: int | None = Field(None, validation_alias="PAYMENTS_METRICS_PORT", ge=1, le=65535)
    log_format: str = Field("text", validation_alias="PAYMENTS_LOG_FORMAT")
    events_broker_url: SecretStr | None = Field(None, validation_alias="PAYMENTS_EVENTS_BROKER_URL")
    events_max_attempts: int = Field(12, validation_alias="PAYMENTS_EVENTS_MAX_ATTEMPTS", ge=1)
    events_retry_base: float = Field(5.0, validation_alias="PAYMENTS_EVENTS_RETRY_BASE", ge=0)
    events_retention_days: int = Field(30, validation_alias="PAYMENTS_EVENTS_RETENTION_DAYS", ge=1)
    events_timeout: float = Field(10.0, validation_alias="PAYMENTS_EVENTS_TIMEOUT", gt=0, le=60)
    webhook_allow_private: bool | None = Field(
        None, validation_alias="PAYMENTS_WEBHOOK_ALLOW_PRIVATE"
    )

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

    admin_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["admin"], validation_alias="PAYMENTS_ADMIN_ROLES"
    )
    user_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["user"], validation_alias="PAYMENTS_USER_ROLES"
    )
    max_query_cost: int = Field(
        DEFAULT_MAX_QUERY_COST, validation_alias="PAYMENTS_MAX_QUERY_COST", ge=1
    )
    max_body_bytes: int = Field(
        1024 * 1024, validation_alias="PAYMENTS_MAX_BODY_BYTES", ge=1024, le=64 * 1024 * 1024
    )
    request_timeout: float = Field(15.0, validation_alias="PAYMENTS_REQUEST_TIMEOUT", gt=0, le=300)
    rate_limits: Annotated[dict[str, str] | None, NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS), validation_alias="PAYMENTS_RATE_LIMITS"
    )
    rate_limit_storage: str = Field("memory://", validation_alias="PAYMENTS_RATE_LIMIT_STORAGE")
    rate_limit_prefix: str = Field(
        "graphql-payments", validation_alias="PAYMENTS_RATE_LIMIT_PREFIX", min_length=1
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="PAYMENTS_TRUSTED_PROXIES"
    )
    introspection: bool = Field(True, validation_alias="PAYMENTS_INTROSPECTION")
    graphiql: bool = Field(True, validation_alias="PAYMENTS_GRAPHIQL")

    @field_validator("stripe_webhook_secret", "trusted_proxies", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("admin_roles", "user_roles", mode="before")
    @classmethod
    def _split_roles(cls, value: Any) -> Any:
        value = _split(value)
        if isinstance(value, list):
            return [str(role).lower() for role in value]
        return value

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _rate_limits(cls, value: Any) -> Any:
        """`off`, or `kind=limits` pairs separated by spaces: `ip=300/minute user=60/minute`.

        Kinds not named keep their defaults; each value is in the `limits` notation.
        """
        if value is None or isinstance(value, dict):
            return value
        text = str(value).strip()
        if text.lower() in ("off", "false", "0", "none"):
            return None
        found = dict(DEFAULT_RATE_LIMITS)
        for pair in text.split():
            kind, sep, limit = pair.partition("=")
            if not sep or kind not in DEFAULT_RATE_LIMITS:
                raise ValueError(
                    f"PAYMENTS_RATE_LIMITS: {pair[:100]!r} is not kind=limit with kind one of "
                    f"{', '.join(DEFAULT_RATE_LIMITS)}, or 'off'."
                )
            found[kind] = limit
        return found

    @field_validator("rate_limits")
    @classmethod
    def _parse_rate_limits(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        from limits import parse_many

        if value is None:
            return None
        for kind, limit in value.items():
            if kind not in DEFAULT_RATE_LIMITS:
                raise ValueError(f"Unknown rate limit kind {kind!r}.")
            try:
                parse_many(limit)
            except ValueError:
                raise ValueError(
                    f"PAYMENTS_RATE_LIMITS: {limit[:100]!r} for {kind} is not in the limits "
                    "notation (e.g. 10/minute;100/hour)."
                ) from None
        return {**DEFAULT_RATE_LIMITS, **value}

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(
                    f"PAYMENTS_TRUSTED_PROXIES: {network[:100]!r} is not an address or network."
                ) from None
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

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        """`postgresql://` and `sqlite://` mean the async drivers this server runs on."""
        for plain, driver in ASYNC_DRIVERS.items():
            if value.startswith(plain):
                return driver + value.removeprefix(plain)
        return value

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
        try:
            if secrets_dir is not None:
                return cls(_secrets_dir=secrets_dir, **overrides)
            return cls(**overrides)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']} "
                f"(got {error['input']!r})"
                for error in exc.errors(include_url=False)
            ]
            raise SettingsConflict("Invalid configuration: " + "; ".join(problems)) from None

    @property
    def rate_limits_enabled(self) -> bool:
        return self.rate_limits is not None

    @property
    def sandbox_mode(self) -> bool:
        if self.sandbox is not None:
            return self.sandbox
        return self.stripe_secret_key is None

    @property
    def allow_private_webhooks(self) -> bool:
        """Whether webhook endpoints may point at loopback or private addresses."""
        if self.webhook_allow_private is not None:
            return self.webhook_allow_private
        return self.sandbox_mode

    @property
    def broker_url(self) -> str | None:
        return self.events_broker_url.get_secret_value() if self.events_broker_url else None

    @property
    def demo_enabled(self) -> bool:
        """The demo storefront at /demo: on in sandbox mode unless PAYMENTS_DEMO=false."""
        return self.demo if self.demo is not None else self.sandbox_mode

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
    def default_success_url(self) -> str:
        """Where Checkout sends a customer who paid, when the caller names no page."""
        return f"{self.server_url}{PAY_SUCCESS_PATH}?session_id={{CHECKOUT_SESSION_ID}}"

    @property
    def default_cancel_url(self) -> str:
        return f"{self.server_url}{PAY_CANCEL_PATH}?session_id={{CHECKOUT_SESSION_ID}}"

    @property
    def default_return_url(self) -> str:
        """Where a customer returns after 3-D Secure (Stripe adds `payment_intent`)."""
        return f"{self.server_url}{PAY_RETURN_PATH}"

    @property
    def webhook_secrets(self) -> list[str]:
        return [secret.get_secret_value() for secret in self.stripe_webhook_secret]

    @property
    def autopay_return_page(self) -> str:
        """Where a customer lands after authenticating an autopay charge."""
        return self.autopay_return_url or self.default_return_url

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
        if self.log_format not in ("text", "json"):
            found.append("PAYMENTS_LOG_FORMAT must be text or json.")
        if self.metrics_port is not None and self.metrics_port == self.port:
            found.append(
                "PAYMENTS_METRICS_PORT is the server's own port; use PAYMENTS_METRICS=true to "
                "serve /metrics there, or another port."
            )
        if self.workers > 1 and self.sandbox_mode:
            found.append(
                "PAYMENTS_WORKERS > 1 in sandbox mode: the built-in sandbox keeps Stripe's state "
                "in one process's memory. Run one worker, or run `graphql-payments sandbox` "
                "apart and point STRIPE_API_BASE (with an sk_test_ key) at it."
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
        broker = self.broker_url
        if broker is not None and not broker.startswith(BROKER_SCHEMES):
            found.append(
                "PAYMENTS_EVENTS_BROKER_URL must start with one of "
                + ", ".join(BROKER_SCHEMES)
                + "."
            )
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            found.append(
                "PAYMENTS_DATABASE_URL must start with sqlite+aiosqlite:// or "
                "postgresql+asyncpg:// (postgresql:// and sqlite:// are read as those)."
            )
        if self.jwt_public_key and not self.jwt_public_key.lstrip().startswith("-----BEGIN"):
            found.append("PAYMENTS_JWT_PUBLIC_KEY must be a PEM public key.")
        found.extend(self._secret_problems())
        if self.sandbox_mode and self.sandbox is not True and not is_loopback(self.host):
            found.append(
                f"Sandbox mode (no STRIPE_SECRET_KEY) on the non-loopback host {self.host}: set "
                "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET for real Stripe, or "
                "PAYMENTS_SANDBOX=true to serve the sandbox on purpose."
            )
        overlap = set(self.admin_roles) & set(self.user_roles)
        if overlap:
            found.append(
                "PAYMENTS_ADMIN_ROLES and PAYMENTS_USER_ROLES share "
                f"{', '.join(sorted(overlap))}: a role means admin or user, not both."
            )
        if not self.admin_roles or not self.user_roles:
            found.append("PAYMENTS_ADMIN_ROLES and PAYMENTS_USER_ROLES must each name a role.")
        if "anonymous" in {*self.admin_roles, *self.user_roles}:
            found.append("'anonymous' is the caller without identity: it cannot be a role here.")
        return found

    def _secret_problems(self) -> list[str]:
        """Secrets that are set but empty or too short to be secret: the start stops."""
        found: list[str] = []
        if self.stripe_secret_key is not None and not self.stripe_secret_key.get_secret_value():
            found.append("STRIPE_SECRET_KEY is set but empty: set the key, or unset it.")
        if self.shared_secret is not None:
            shared = self.shared_secret.get_secret_value().strip()
            if len(shared) < MIN_SECRET_LENGTH:
                found.append(
                    f"PAYMENTS_SHARED_SECRET is {'empty' if not shared else 'too short'}: use "
                    f"at least {MIN_SECRET_LENGTH} random characters, or unset it."
                )
        if self.jwt_secret is not None:
            key = self.jwt_secret.get_secret_value()
            if len(key.strip().encode()) < MIN_HS256_KEY_BYTES:
                found.append(
                    f"PAYMENTS_JWT_SECRET is {'empty' if not key.strip() else 'too short'}: an "
                    f"HS256 key needs at least {MIN_HS256_KEY_BYTES} bytes."
                )
        for secret in self.webhook_secrets:
            if len(secret) < MIN_SECRET_LENGTH:
                found.append(
                    "STRIPE_WEBHOOK_SECRET is too short: use the endpoint's signing secret "
                    "(whsec_...) from Stripe."
                )
                break
        return found
