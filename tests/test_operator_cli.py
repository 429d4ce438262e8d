"""Operator commands against a running server in sandbox mode: they use its sandbox at
`/_sandbox/v1`, as they would use Stripe in real mode."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from graphql_payments.cli import main
from tests.helpers import CHECKOUT, JWT_SECRET, as_admin, as_user, free_port, wait_until_healthy

AUDIT = "{ auditLog { edges { node { action actorRole authenticatedBy result } } } }"


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PAYMENTS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}",
        "PAYMENTS_PORT": str(free_port()),
        "PAYMENTS_JWT_SECRET": JWT_SECRET,
        "PAYMENTS_LOG_LEVEL": "WARNING",
        # The server's own sweep stays out of the way: the commands do the repairs here.
        "PAYMENTS_RECONCILE_INTERVAL": "86400",
        "PAYMENTS_RECONCILE_GRACE": "3600",
    }


@pytest.fixture
def server(server_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "PAYMENTS_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "graphql_payments", "serve"],
        cwd=tmp_path,
        env=env | server_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{server_env['PAYMENTS_PORT']}"
    try:
        if not wait_until_healthy(base, process):
            pytest.fail("server did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.mark.slow
def test_reconcile_replay_and_verify_use_the_running_servers_sandbox(
    server: str,
    server_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in server_env.items():
        monkeypatch.setenv(name, value)
    with httpx.Client(base_url=server, timeout=10) as client:
        # given: a paid checkout whose webhooks never reached the server
        for endpoint in client.get("/_sandbox/control/webhooks/endpoints").json()["data"]:
            client.delete(f"/_sandbox/control/webhooks/endpoints/{endpoint['id']}")
        variables = {
            "input": {
                "packageId": "basic",
                "idempotencyKey": "cli",
                "successUrl": "https://shop.example/ok",
                "cancelUrl": "https://shop.example/no",
            }
        }
        session = client.post(
            "/graphql", json={"query": CHECKOUT, "variables": variables}, headers=as_user("eve")
        ).json()["data"]["checkout"]["sessionId"]
        assert client.post(f"/_sandbox/control/checkout/sessions/{session}/pay").is_success
        # when / then: the check sees the difference with Stripe
        assert main(["ledger", "verify", "--stripe"]) == 1
        assert "ours PENDING, Stripe succeeded" in capsys.readouterr().out
        # when: one reconciliation pass
        yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
        assert main(["reconcile", "--since", yesterday]) == 0
        out = capsys.readouterr().out
        assert "REPAIRED event" in out
        assert "caught up: HANDLED" in out
        # then
        assert main(["ledger", "verify", "--stripe"]) == 0
        assert "ledger and Stripe ok" in capsys.readouterr().out
        events = client.get(
            "/_sandbox/control/events", params={"type": "checkout.session.completed"}
        ).json()["data"]
        event_id = events[0]["id"]
        assert main(["webhooks", "replay", event_id]) == 0
        assert f"{event_id} HANDLED" in capsys.readouterr().out
        assert main(["webhooks", "replay", "--failed"]) == 0
        assert "0 event(s) replayed" in capsys.readouterr().out
        assert main(["webhooks", "replay"]) == 2
        # and: the commands that changed data are in the audit trail
        audit = client.post("/graphql", json={"query": AUDIT}, headers=as_admin()).json()
        actions = [edge["node"] for edge in audit["data"]["auditLog"]["edges"]]
        assert [a["action"] for a in actions] == ["webhooks.replay", "webhooks.replay", "reconcile"]
        assert {(a["actorRole"], a["authenticatedBy"]) for a in actions} == {("operator", "cli")}
        me = client.post(
            "/graphql", json={"query": "{ me { creditsBalance } }"}, headers=as_user("eve")
        ).json()
        assert me["data"]["me"]["creditsBalance"] == 100


@pytest.mark.slow
async def test_operator_commands_follow_the_running_servers_sandbox_clock(
    server: str, server_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphql_payments.app import command_services
    from graphql_payments.config import Settings

    for name, value in server_env.items():
        monkeypatch.setenv(name, value)
    # given: the server's sandbox clock forty days ahead
    async with httpx.AsyncClient(base_url=server, timeout=10) as client:
        advanced = await client.post(
            "/_sandbox/control/clock/advance", json={"seconds": 40 * 86400}
        )
    sandbox_now = dt.datetime.fromtimestamp(advanced.json()["now"], dt.UTC)
    # when: an operator command (autopay run, reconcile) builds its services
    services = command_services(Settings.load())
    try:
        now = await services.clock.now()
    finally:
        await services.aclose()
    # then: its clock is the sandbox's, as its Stripe is
    assert abs((now - sandbox_now).total_seconds()) < 60
    assert now > dt.datetime.now(dt.UTC) + dt.timedelta(days=39)
