"""What the operator sees and does: failed webhook events and their replay, the audit trail,
retention, readiness, metrics, request ids and log lines."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
import socket

import httpx
import pytest
from starlette.applications import Starlette

from graphql_payments import logs
from graphql_payments.config import Settings
from graphql_payments.db import utcnow
from graphql_payments.errors import SettingsConflict
from graphql_payments.gateway import PAYMENT_ID_KEY
from graphql_payments.graphql.pagination import encode_cursor
from graphql_payments.maintenance import purge
from graphql_payments.operations.audit import Actor
from graphql_payments.operations.models import AuditRecord
from graphql_payments.sandbox import Sandbox
from graphql_payments.services import Services
from graphql_payments.webhooks.models import EventStatus, WebhookEvent
from tests.escrow.flows import authorize, release, runner_account
from tests.helpers import (
    GraphQLClient,
    as_admin,
    as_user,
    balance,
    checkout,
    error_codes,
    signed,
)
from tests.webhooks.test_inbox import event

FAILED_EVENTS = """
query($first: Int, $after: String) {
  failedWebhookEvents(first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id type objectId attempts lastError receivedAt } }
  }
}
"""

FAILED_PAYMENTS = """
query($after: String) { failedPayments(after: $after) { totalCount } }
"""

AUDIT = """
query($actor: String, $payment: ID, $first: Int, $after: String) {
  auditLog(actorId: $actor, paymentId: $payment, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { action actorId actorRole authenticatedBy paymentId input result requestId } }
  }
}
"""


async def failed_event(http: httpx.AsyncClient, services: Services, event_id: str) -> None:
    """An event naming a payment that never appears, past its (one) attempt."""
    services.inbox.settings = services.settings.model_copy(update={"webhook_max_attempts": 1})
    obj = event()["data"]["object"] | {"metadata": {PAYMENT_ID_KEY: "pay_never"}}
    body, headers = signed(event(event_id, obj=obj))
    assert (await http.post("/webhooks/stripe", content=body, headers=headers)).status_code == 200
    await services.inbox.process(event_id)


async def test_events_that_exhaust_their_retries_are_listed_and_replayed(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    # given
    await failed_event(http, services, "evt_failed_1")
    await failed_event(http, services, "evt_failed_2")
    # when
    page = (await gql.data(FAILED_EVENTS, {"first": 1}, headers=as_admin()))["failedWebhookEvents"]
    rest = await gql.data(
        FAILED_EVENTS, {"after": page["pageInfo"]["endCursor"]}, headers=as_admin()
    )
    # then
    assert page["totalCount"] == 2
    assert [e["node"]["id"] for e in page["edges"]] == ["evt_failed_2"]
    assert page["edges"][0]["node"]["attempts"] == 1
    assert "pay_never" in page["edges"][0]["node"]["lastError"]
    assert [e["node"]["id"] for e in rest["failedWebhookEvents"]["edges"]] == ["evt_failed_1"]
    # and: a user may not see them
    denied = await gql(FAILED_EVENTS, headers=as_user("alice"))
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # when: replayed, they are processed again from their first attempt
    outcome = await services.inbox.replay_failed()
    assert outcome == {"evt_failed_1": EventStatus.FAILED, "evt_failed_2": EventStatus.FAILED}
    assert await services.inbox.replay("evt_unknown") is None


async def test_replaying_a_handled_event_changes_nothing(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given: a paid purchase, credited by its webhook
    result = await checkout(gql, "alice")
    await sandbox.pay_checkout_session(result["sessionId"])
    await sandbox.webhooks.wait_idle()
    [completed] = sandbox.events_of("checkout.session.completed")
    assert await balance(gql) == 100
    # when
    status = await services.inbox.replay(completed["id"])
    # then
    assert status is EventStatus.HANDLED
    assert await balance(gql) == 100


async def test_admin_mutations_leave_an_audit_record(
    gql: GraphQLClient, sandbox: Sandbox, services: Services
) -> None:
    # given
    account = await runner_account(sandbox)
    authorized = await authorize(gql)
    payment_id = authorized["payment"]["id"]
    # when: an admin releases, then tries to release an unknown order
    headers = as_admin("ops-1") | {"X-Request-ID": "req-42"}
    await gql.data(
        "mutation($i: ReleaseInput!) { release(input: $i) { __typename } }",
        {"i": {"orderId": "order-1", "runnerAccountId": account}},
        headers=headers,
    )
    missing = await release(gql, order="order-unknown")
    assert missing["code"] == "NOT_FOUND"
    # then
    log = (await gql.data(AUDIT, {"payment": payment_id}, headers=as_admin()))["auditLog"]
    [record] = [edge["node"] for edge in log["edges"]]
    assert record["action"] == "release"
    assert (record["actorId"], record["actorRole"], record["authenticatedBy"]) == (
        "ops-1",
        "admin",
        "jwt",
    )
    assert record["requestId"] == "req-42"
    assert json.loads(record["input"])["runner_account_id"] == account
    assert json.loads(record["result"])["payment"] == {"id": payment_id, "status": "RELEASED"}
    everything = (await gql.data(AUDIT, {"first": 10}, headers=as_admin()))["auditLog"]
    assert everything["totalCount"] == 2
    failed = json.loads(everything["edges"][0]["node"]["result"])
    assert failed["error"] == "NOT_FOUND"
    by_actor = (await gql.data(AUDIT, {"actor": "nobody"}, headers=as_admin()))["auditLog"]
    assert by_actor["totalCount"] == 0


@pytest.mark.parametrize("raw_id", ["12x", "1" * 19])
async def test_a_bad_audit_log_cursor_is_bad_input_not_a_bug(
    gql: GraphQLClient, raw_id: str
) -> None:
    # given: a cursor whose id is not a row id (not a number, or past a BIGINT)
    after = encode_cursor(utcnow(), raw_id)

    # when
    for query in (AUDIT, FAILED_PAYMENTS):
        body = await gql(query, {"after": after}, headers=as_admin())

        # then
        assert error_codes(body) == ["BAD_USER_INPUT"], body


async def test_retention_purges_processed_events_only(services: Services) -> None:
    # given
    old = utcnow() - dt.timedelta(days=services.settings.webhook_retention_days + 1)
    async with services.db.transaction() as session:
        for event_id, status in (
            ("evt_old", EventStatus.HANDLED),
            ("evt_old_ignored", EventStatus.IGNORED),
            ("evt_old_failed", EventStatus.FAILED),
            ("evt_new", EventStatus.HANDLED),
        ):
            handled = old if event_id.startswith("evt_old") else utcnow()
            session.add(
                WebhookEvent(id=event_id, type="charge.succeeded", payload="{}", status=status,
                             attempts=1, received_at=handled, handled_at=handled)
            )  # fmt: skip
    await services.audit.record(
        Actor("op", "operator", "cli"), action="reconcile", input={}, result={}
    )
    # when
    await purge(services)
    # then
    async with services.db.reading() as session:
        kept = {e for e in ("evt_old", "evt_old_ignored", "evt_old_failed", "evt_new")
                if await session.get(WebhookEvent, e) is not None}  # fmt: skip
        audit = await session.get(AuditRecord, 1)
    assert kept == {"evt_old_failed", "evt_new"}
    assert audit is not None


async def test_readiness_reports_the_backlog_and_the_last_reconciliation(
    http: httpx.AsyncClient, services: Services
) -> None:
    # given
    body, headers = signed(event("evt_waiting"))
    await services.inbox.receive(body, headers["Stripe-Signature"])
    before = (await http.get("/health/ready")).json()
    # when
    await services.reconciler.run()
    after = (await http.get("/health/ready")).json()
    # then
    assert before["webhooks"]["backlog"] == 1
    assert before["webhooks"]["oldest_pending_age_seconds"] >= 0
    assert before["reconciliation"]["last_success_at"] is None
    assert after["reconciliation"]["last_success_at"] is not None
    assert (await http.get("/health")).json()["status"] == "ok"


async def test_metrics_are_off_on_the_public_port_by_default(http: httpx.AsyncClient) -> None:
    assert (await http.get("/metrics")).status_code == 404


class TestMetrics:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"metrics": True})

    async def test_metrics_report_requests_payments_stripe_and_the_inbox(
        self, http: httpx.AsyncClient, gql: GraphQLClient, sandbox: Sandbox
    ) -> None:
        # given
        result = await checkout(gql, "alice")
        await sandbox.pay_checkout_session(result["sessionId"])
        await sandbox.webhooks.wait_idle()
        await gql.data("query Packages { creditPackages { id } }")
        # when
        response = await http.get("/metrics")
        # then
        text = response.text
        assert response.headers["content-type"].startswith("text/plain")
        assert 'payments_payments{kind="CREDIT_PURCHASE",status="SUCCEEDED"} 1.0' in text
        assert 'payments_requests_total{operation="graphql:Checkout",outcome="ok"}' in text
        assert 'payments_requests_total{operation="graphql:Packages",outcome="ok"}' in text
        assert 'payments_stripe_requests_total{endpoint="/v1/checkout/sessions"' in text
        assert "payments_webhook_backlog 0.0" in text
        assert 'payments_stuck{kind="refund"} 0.0' in text
        assert "payments_reconciliation_last_success_timestamp_seconds" in text


async def test_the_request_id_comes_in_and_goes_out(http: httpx.AsyncClient) -> None:
    given = await http.get("/health", headers={"X-Request-ID": "abc-123"})
    made = await http.get("/health")
    invalid = await http.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 32
    assert invalid.headers["x-request-id"] != "bad id\twith spaces"


@pytest.fixture
def json_logs() -> io.StringIO:
    """Logs as PAYMENTS_LOG_FORMAT=json writes them, into a buffer (`logging_as_it_was` puts
    the configuration back)."""
    logs.configure("INFO", "json")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[-1]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    return stream


async def test_a_client_error_is_one_info_line_with_the_request_id(
    app: Starlette, http: httpx.AsyncClient, json_logs: io.StringIO
) -> None:
    # when: an unauthenticated and an invalid request
    await http.post(
        "/graphql",
        json={"query": "{ me { userId } }"},
        headers={"X-Request-ID": "rid-1", "Authorization": "Bearer not-a-token"},
    )
    await http.post("/graphql", json={"query": "{ nope }"}, headers={"X-Request-ID": "rid-2"})
    # then
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    first = [line for line in lines if line.get("request_id") == "rid-1"]
    assert {line["level"] for line in lines} == {"INFO"}
    assert [line["logger"] for line in first] == [
        "graphql_payments.graphql",
        "graphql_payments.access",
    ]
    assert "UNAUTHENTICATED" in first[0]["message"]
    assert first[1]["operation"] == "graphql:query"
    assert first[1]["outcome"] == "UNAUTHENTICATED"
    assert not any("exc_info" in line for line in lines)


async def test_one_stripe_call_is_one_line_with_the_request_id(
    gql: GraphQLClient, json_logs: io.StringIO
) -> None:
    await gql.data(
        "mutation($i: CheckoutInput!) { checkout(input: $i) { __typename } }",
        {"i": {"packageId": "basic", "idempotencyKey": "k", "successUrl": "https://a.example/s",
               "cancelUrl": "https://a.example/c"}},
        headers=as_user("alice") | {"X-Request-ID": "rid-stripe"},
    )  # fmt: skip
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    stripe_lines = [line for line in lines if line["logger"] == "graphql_payments.stripe"]
    assert [line["stripe_endpoint"] for line in stripe_lines] == [
        "/v1/customers",
        "/v1/checkout/sessions",
    ]
    assert {line["request_id"] for line in stripe_lines} == {"rid-stripe"}
    assert not [line for line in lines if line["logger"] in ("stripe", "httpx")]


async def test_a_separate_metrics_port_must_differ_from_the_server_port(database_url: str) -> None:
    with pytest.raises(SettingsConflict, match="PAYMENTS_METRICS_PORT"):
        Settings(database_url=database_url, port=8000, metrics_port=8000)


class TestMetricsPort:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        return settings.model_copy(update={"metrics_port": port})

    async def test_metrics_can_be_served_on_their_own_port(
        self, app: Starlette, http: httpx.AsyncClient, settings: Settings
    ) -> None:
        async with app.router.lifespan_context(app), httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    response = await client.get(f"http://127.0.0.1:{settings.metrics_port}/metrics")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        assert response.status_code == 200
        assert "payments_webhook_backlog" in response.text
        assert (await http.get("/metrics")).status_code == 404
