"""Prometheus metrics (prometheus-client).

Counters and histograms are kept per process; with several worker processes set
`PROMETHEUS_MULTIPROC_DIR` to an empty directory shared by them (before they start) and any
process's `/metrics` reports the sum of all. What the database knows (payments by kind and
status, the webhook backlog, stuck operations, the last reconciliation) is read at scrape time,
so it is the same whichever process answers.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "payments_requests_total",
    "Requests handled, by operation (GraphQL operation name or route) and outcome.",
    ["operation", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "payments_request_duration_seconds",
    "Time to answer a request, by operation.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
STRIPE_CALLS = Counter(
    "payments_stripe_requests_total",
    "HTTP requests to Stripe, by endpoint, method and status (0: no answer).",
    ["endpoint", "method", "status"],
)
STRIPE_ERRORS = Counter(
    "payments_stripe_errors_total",
    "Stripe requests that failed (no answer or a 5xx/429), by endpoint.",
    ["endpoint"],
)
STRIPE_SECONDS = Histogram(
    "payments_stripe_request_duration_seconds",
    "Time Stripe took to answer, by endpoint.",
    ["endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WEBHOOK_EVENTS = Counter(
    "payments_webhook_events_total",
    "Webhook events processed, by outcome (HANDLED, IGNORED, PENDING = retry later, FAILED).",
    ["outcome"],
)
REPAIRS = Counter(
    "payments_reconciliation_repairs_total",
    "Things the reconciliation changed, by kind (payment, event, operation, refund).",
    ["kind"],
)
RECONCILIATION_ERRORS = Counter(
    "payments_reconciliation_errors_total",
    "Repairs that failed and will be tried again, by kind.",
    ["kind"],
)
AUTOPAY = Counter(
    "payments_autopay_charges_total",
    "Automatic charges, by outcome (succeeded, declined, requires_action).",
    ["outcome"],
)

_ID = re.compile(r"/[a-z]{2,8}_[A-Za-z0-9_]+")


def endpoint(path: str) -> str:
    """A Stripe path with object ids replaced: /v1/refunds/re_123 -> /v1/refunds/{id}."""
    start = path.find("/v1/")
    return _ID.sub("/{id}", path[start:] if start >= 0 else path)


class Snapshot(Collector):
    """Gauges read from the database for one scrape."""

    def __init__(
        self,
        *,
        payments: Iterable[tuple[str, str, int]],
        backlog: int,
        oldest_pending: dt.datetime | None,
        failed_events: int,
        stuck: dict[str, int],
        last_reconciliation: dt.datetime | None,
        now: dt.datetime,
    ) -> None:
        self.payments = list(payments)
        self.backlog = backlog
        self.oldest_pending = oldest_pending
        self.failed_events = failed_events
        self.stuck = stuck
        self.last_reconciliation = last_reconciliation
        self.now = now

    def collect(self) -> Iterator[Metric]:
        by_status = GaugeMetricFamily(
            "payments_payments", "Payments by kind and status.", labels=["kind", "status"]
        )
        for kind, status, count in self.payments:
            by_status.add_metric([kind, status], count)
        yield by_status
        yield GaugeMetricFamily(
            "payments_webhook_backlog", "Webhook events waiting to be processed.", self.backlog
        )
        lag = 0.0
        if self.oldest_pending is not None:
            lag = max(0.0, (self.now - self.oldest_pending).total_seconds())
        yield GaugeMetricFamily(
            "payments_webhook_lag_seconds",
            "Age of the oldest webhook event waiting to be processed.",
            lag,
        )
        yield GaugeMetricFamily(
            "payments_webhook_events_failed",
            "Webhook events that exhausted their retries (see failedWebhookEvents).",
            self.failed_events,
        )
        stuck = GaugeMetricFamily(
            "payments_stuck",
            "Payments waiting for Stripe, half-done operations and pending refunds older than "
            "the reconciliation grace period, by kind.",
            labels=["kind"],
        )
        for kind, count in sorted(self.stuck.items()):
            stuck.add_metric([kind], count)
        yield stuck
        yield GaugeMetricFamily(
            "payments_reconciliation_last_success_timestamp_seconds",
            "When a reconciliation pass last completed (unix time; 0 = never).",
            self.last_reconciliation.timestamp() if self.last_reconciliation else 0.0,
        )


def render(snapshot: Snapshot) -> bytes:
    """The exposition text: this process's (or all processes') metrics plus `snapshot`."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    extra = CollectorRegistry(auto_describe=False)
    extra.register(snapshot)
    return body + generate_latest(extra)
