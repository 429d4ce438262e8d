"""Configuration and identity fail closed: empty or short secrets stop the start, sandbox mode
is not exposed by accident, the sandbox's controls are not public, role claims are checked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr

from graphql_payments.config import Settings
from graphql_payments.errors import SettingsConflict
from tests.helpers import HASURA, JWT_SECRET, ME, SHARED_SECRET, GraphQLClient, error_codes
from tests.security.conftest import AppClient, services_of


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"shared_secret": ""}, "PAYMENTS_SHARED_SECRET is empty"),
        ({"shared_secret": "   "}, "PAYMENTS_SHARED_SECRET is empty"),
        ({"shared_secret": "short"}, "PAYMENTS_SHARED_SECRET is too short"),
        ({"jwt_secret": ""}, "PAYMENTS_JWT_SECRET is empty"),
        ({"jwt_secret": "x" * 31}, "PAYMENTS_JWT_SECRET is too short"),
        (
            {"stripe_secret_key": "sk_test_abc", "stripe_webhook_secret": "whsec_1"},
            "STRIPE_WEBHOOK_SECRET is too short",
        ),
        ({"stripe_secret_key": ""}, "STRIPE_SECRET_KEY"),
        ({"host": "0.0.0.0"}, "PAYMENTS_SANDBOX=true"),
        ({"host": "10.1.2.3"}, "non-loopback host 10.1.2.3"),
        ({"admin_roles": "admin,user"}, "PAYMENTS_ADMIN_ROLES and PAYMENTS_USER_ROLES share"),
        ({"rate_limits": "ip=lots"}, "PAYMENTS_RATE_LIMITS"),
        ({"trusted_proxies": "proxy.local"}, "PAYMENTS_TRUSTED_PROXIES"),
    ],
)
def test_weak_or_risky_settings_stop_the_start(values: dict[str, Any], fragment: str) -> None:
    with pytest.raises((SettingsConflict, ValueError)) as raised:
        Settings(_env_file=None, **values)
    assert fragment in str(raised.value)


def test_an_empty_secrets_file_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    (tmp_path / "PAYMENTS_SHARED_SECRET").write_text("\n")
    monkeypatch.setenv("PAYMENTS_SECRETS_DIR", str(tmp_path))

    # when / then
    with pytest.raises(SettingsConflict, match="PAYMENTS_SHARED_SECRET is empty"):
        Settings.load(_env_file=None)


def test_sandbox_mode_serves_loopback_or_an_explicit_choice() -> None:
    assert Settings(_env_file=None).sandbox_mode
    assert Settings(_env_file=None, host="::1").sandbox_mode
    assert Settings(_env_file=None, host="0.0.0.0", sandbox=True).sandbox_mode
    real = Settings(
        _env_file=None,
        host="0.0.0.0",
        stripe_secret_key="sk_test_abc",
        stripe_webhook_secret="whsec_0123456789abcdef",
    )
    assert not real.sandbox_mode


def test_the_docker_image_runs_real_mode_unless_told_otherwise() -> None:
    dockerfile = (Path(__file__).parents[2] / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if not line.startswith("#")]
    assert any("PAYMENTS_HOST=0.0.0.0" in line for line in instructions)
    assert not any("PAYMENTS_SANDBOX" in line for line in instructions)
    assert not any("STRIPE_SECRET_KEY" in line for line in instructions)


async def test_an_empty_shared_secret_header_is_refused(gql: GraphQLClient) -> None:
    # when
    body = await gql(
        ME, headers={"X-Payments-Secret": "", "X-Hasura-Role": "admin", "X-Hasura-User-Id": "m"}
    )

    # then
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_the_sandbox_controls_answer_only_loopback_or_the_control_key(
    app_client: AppClient,
) -> None:
    # given: sandbox mode served on purpose to other hosts, with a key of its own
    key = "sk_test_operator_chosen_key"
    async with app_client(
        client_host="203.0.113.9", stripe_secret_key=SecretStr(key), sandbox=True
    ) as http:
        # when
        listed = await http.get("/_sandbox/control/webhooks/endpoints")
        added = await http.post(
            "/_sandbox/control/webhooks/endpoints", json={"url": "https://evil.example/hook"}
        )
        reset = await http.post("/_sandbox/control/reset")
        index = await http.get("/_sandbox/")
        with_key = await http.get(
            "/_sandbox/control/webhooks/endpoints", headers={"Authorization": f"Bearer {key}"}
        )
        default_key = await http.get(
            "/_sandbox/control/webhooks/endpoints",
            headers={"Authorization": "Bearer sk_test_sandbox"},
        )
        endpoints = services_of(http).sandbox.webhooks.endpoints  # type: ignore[union-attr]

    # then
    for refused in (listed, added, reset, index, default_key):
        assert refused.status_code == 403
    assert len(endpoints) == 1
    assert with_key.status_code == 200
    (endpoint,) = with_key.json()["data"]
    assert "secret" not in endpoint
    assert "whsec_" not in with_key.text


async def test_a_loopback_client_behind_a_proxy_is_not_trusted(http: httpx.AsyncClient) -> None:
    # when
    direct = await http.get("/_sandbox/control/webhooks/endpoints")
    proxied = await http.get(
        "/_sandbox/control/webhooks/endpoints", headers={"X-Forwarded-For": "198.51.100.7"}
    )

    # then
    assert direct.status_code == 200
    assert "whsec_" not in direct.text
    assert proxied.status_code == 403


def _token(default_role: str, allowed: list[str], **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "mallory",
        "iat": now,
        "exp": now + 600,
        HASURA: {
            "x-hasura-user-id": "mallory",
            "x-hasura-default-role": default_role,
            "x-hasura-allowed-roles": allowed,
        },
        **claims,
    }
    return jwt.encode(payload, JWT_SECRET, algorithm="HS256")


@pytest.mark.parametrize("allowed", [["user"], [], ["editor"]])
async def test_a_default_role_outside_the_allowed_roles_is_refused(
    gql: GraphQLClient, allowed: list[str]
) -> None:
    # when
    body = await gql(ME, headers={"Authorization": f"Bearer {_token('admin', allowed)}"})

    # then
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_audience_and_issuer_are_checked_when_set(app_client: AppClient) -> None:
    # given
    good = _token("user", ["user"], aud="payments", iss="https://auth.example")
    wrong_aud = _token("user", ["user"], aud="other", iss="https://auth.example")
    no_iss = _token("user", ["user"], aud="payments")
    async with app_client(jwt_audience="payments", jwt_issuer="https://auth.example") as http:
        gql = GraphQLClient(http)

        # when
        ok = await gql(ME, headers={"Authorization": f"Bearer {good}"})
        refused = [
            await gql(ME, headers={"Authorization": f"Bearer {t}"}) for t in (wrong_aud, no_iss)
        ]

    # then
    assert ok["data"]["me"]["userId"] == "mallory"
    assert [error_codes(b) for b in refused] == [["UNAUTHENTICATED"], ["UNAUTHENTICATED"]]


async def test_admin_and_user_roles_are_configurable(app_client: AppClient) -> None:
    # given: Hasura roles named manager (admin here) and customer (user here)
    manager = _token("manager", ["manager", "customer"])
    customer = _token("customer", ["customer"])
    old_admin = _token("admin", ["admin"])
    async with app_client(admin_roles=["manager"], user_roles=["customer"]) as http:
        gql = GraphQLClient(http)

        # when
        as_manager = await gql(ME, headers={"Authorization": f"Bearer {manager}"})
        as_customer = await gql(ME, headers={"Authorization": f"Bearer {customer}"})
        as_old_admin = await gql(ME, headers={"Authorization": f"Bearer {old_admin}"})
        trusted = await gql(
            ME,
            headers={
                "X-Payments-Secret": SHARED_SECRET,
                "X-Hasura-Role": "customer",
                "X-Hasura-User-Id": "carol",
            },
        )

    # then
    assert as_manager["data"]["me"]["role"] == "admin"
    assert as_customer["data"]["me"]["role"] == "user"
    assert error_codes(as_old_admin) == ["FORBIDDEN"]
    assert trusted["data"]["me"] == {"userId": "carol", "role": "user", "creditsBalance": 0}
