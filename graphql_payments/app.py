"""`create_app`: the Starlette application.

Routes: `/graphql` (GraphiQL on GET; subscriptions over WebSocket), `/hasura/actions` (Hasura
Actions), `/webhooks/stripe`, `/health` (cheap, for load balancers), the browser pages of
`graphql_payments.web` (`/`, `/pay/...`, `/demo`, `/static/...`), `/health/ready` (also the
webhook backlog and the last reconciliation), `/metrics` (with `PAYMENTS_METRICS=true`; or on
its own port with `PAYMENTS_METRICS_PORT`), and in sandbox mode the Stripe sandbox at
`/_sandbox` (its API at `/_sandbox/v1/...`).

Engines and clients are built here rather than in the lifespan, because `httpx.ASGITransport`
does not run a lifespan; the lifespan only starts the background workers (`maintenance`:
webhook retries, event relay, reconciliation, SQLite checkpoints, purge; the autopay
scheduler), tunes the garbage collector for a long-running server, and closes what the factory
opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import configure_mappers
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from graphql_payments import __version__, maintenance, metrics, web
from graphql_payments.autopay import scheduler
from graphql_payments.clock import RemoteSandboxClock
from graphql_payments.config import Settings
from graphql_payments.db import Database, display_url, utcnow
from graphql_payments.gateway import StripeGateway
from graphql_payments.graphql.view import GraphQLApp
from graphql_payments.hasura.actions import hasura_actions
from graphql_payments.logs import RequestContext
from graphql_payments.operations import repository as operations
from graphql_payments.operations.reconcile import LAST_PASS
from graphql_payments.payments import repository as payments_repository
from graphql_payments.ratelimit import RateLimiter
from graphql_payments.services import Services
from graphql_payments.webhooks import repository as webhooks_repository
from graphql_payments.webhooks.routes import stripe_webhook

log = logging.getLogger(__name__)

# Young garbage collections come after this many more allocations than deallocations (CPython's
# default: 700). Each one walks what the requests in flight hold; during a burst of 64
# checkouts that is thousands of objects, walked again at every collection and every few
# milliseconds at the default, each time a pause for every request (a `/health` probe
# included). 10,000 makes those pauses about 14 times rarer, for at most that many objects
# held a little longer (requests leave little in reference cycles, see
# `graphql.execution.CompiledExecutionContext`).
YOUNG_COLLECTION = 10_000

SANDBOX_PREFIX = "/_sandbox"
SANDBOX_INTERNAL_BASE = "http://sandbox.internal"


async def health(request: Request) -> JSONResponse:
    services: Services = request.app.state.services
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "stripe": "sandbox" if services.sandbox is not None else "stripe",
    }
    try:
        async with asyncio.timeout(5):  # no task of its own: one turn of the loop less
            await services.db.ping()
        body["database"] = "ok"
    except Exception as exc:
        log.warning("health check: database unavailable: %s", exc)
        body.update(status="unavailable", database="unavailable")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers; with the webhook backlog and the last reconciliation."""
    services: Services = request.app.state.services
    now = utcnow()
    try:
        async with asyncio.timeout(5):
            async with services.db.reading() as session:
                backlog, oldest, failed = await webhooks_repository.backlog(session)
                last = await operations.get_state(session, LAST_PASS)
    except Exception as exc:
        log.warning("readiness check: database unavailable: %s", exc)
        return JSONResponse({"status": "unavailable", "database": "unavailable"}, status_code=503)
    last_at = last.at if last is not None else None
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "database": "ok",
            "webhooks": {
                "backlog": backlog,
                "oldest_pending_age_seconds": (
                    round((now - oldest).total_seconds(), 3) if oldest is not None else None
                ),
                "failed": failed,
            },
            "reconciliation": {
                "last_success_at": last_at.isoformat() if last_at else None,
                "age_seconds": round((now - last_at).total_seconds(), 3) if last_at else None,
                "interval_seconds": services.settings.reconcile_interval,
            },
        }
    )


async def metrics_endpoint(request: Request) -> Response:
    services: Services = request.app.state.services
    now = utcnow()
    grace = dt.timedelta(seconds=services.settings.reconcile_grace)
    async with services.db.reading() as session:
        counts = await payments_repository.count_by_kind_status(session)
        backlog, oldest, failed = await webhooks_repository.backlog(session)
        stuck = await operations.stuck_counts(session, older_than=now - grace)
        last = await operations.get_state(session, LAST_PASS)
    snapshot = metrics.Snapshot(
        payments=counts,
        backlog=backlog,
        oldest_pending=oldest,
        failed_events=failed,
        stuck=stuck,
        last_reconciliation=last.at if last is not None else None,
        now=now,
    )
    return Response(metrics.render(snapshot), media_type=metrics.CONTENT_TYPE)


def stripe_gateway(settings: Settings, **overrides: Any) -> StripeGateway:
    options: dict[str, Any] = {
        "api_base": settings.stripe_api_base,
        "api_version": settings.stripe_api_version,
        "timeout": settings.stripe_timeout,
        "max_network_retries": settings.stripe_max_retries,
    }
    return StripeGateway.create(settings.stripe_key, **{**options, **overrides})


def command_services(settings: Settings) -> Services:
    """Services for an operator command: in sandbox mode, Stripe is the running server's
    sandbox (`/_sandbox/v1` of PAYMENTS_PUBLIC_URL or the server's address)."""
    db = Database(settings.database_url)
    if not settings.sandbox_mode:
        return Services.build(settings, db=db, gateway=stripe_gateway(settings))
    api_base = settings.server_url + SANDBOX_PREFIX
    return Services.build(
        settings,
        db=db,
        gateway=stripe_gateway(settings, api_base=api_base),
        clock=RemoteSandboxClock(api_base),
    )


def build_services(settings: Settings) -> Services:
    db = Database(settings.database_url)
    if not settings.sandbox_mode:
        return Services.build(settings, db=db, gateway=stripe_gateway(settings))

    from graphql_payments.sandbox import Sandbox

    if not settings.stripe_webhook_secret:
        generated = "whsec_" + secrets.token_hex(24)
        settings = settings.model_copy(update={"stripe_webhook_secret": [SecretStr(generated)]})
    # The control API and index answer loopback callers, or callers with an explicitly
    # configured STRIPE_SECRET_KEY (never the well-known default key).
    sandbox = Sandbox(
        public_url=settings.server_url + SANDBOX_PREFIX,
        control_key=settings.stripe_key if settings.stripe_secret_key is not None else None,
    )
    gateway = stripe_gateway(
        settings,
        api_base=SANDBOX_INTERNAL_BASE,
        transport=httpx.ASGITransport(app=sandbox.app),
    )
    services = Services.build(settings, db=db, gateway=gateway, sandbox=sandbox)
    # As with Stripe test clocks: moving the sandbox clock makes due autopays run.
    sandbox.on_clock_advance(lambda _now: services.autopay.sweep())
    return services


def log_start(settings: Settings) -> None:
    """The one line a start logs: mode, database and URL."""
    if settings.sandbox_mode:
        mode = (
            f"SANDBOX MODE (built-in Stripe sandbox at {settings.server_url}{SANDBOX_PREFIX}, "
            "no real money moves)"
        )
    else:
        key = settings.stripe_key
        mode = "Stripe " + (
            "LIVE mode" if key.startswith(("sk_live_", "rk_live_")) else "test mode"
        )
    # Sandbox mode is worth a warning: nothing a customer does here moves money.
    log.log(
        logging.WARNING if settings.sandbox_mode else logging.INFO,
        "graphql-payments %s: %s, database %s, serving %s",
        __version__,
        mode,
        display_url(settings.database_url),
        settings.server_url,
    )


def create_app(settings: Settings | None = None) -> Starlette:
    """The application for `settings` (read from the environment when None)."""
    settings = settings or Settings.load()
    if settings.demo_enabled and settings.jwt_secret is None and not settings.jwt_public_key:
        # The demo signs its made-up users in with a key of this process's own.
        settings = settings.model_copy(update={"jwt_secret": SecretStr(secrets.token_hex(32))})
    services = build_services(settings)
    limiter = RateLimiter(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        log_start(services.settings)
        workers = [
            asyncio.create_task(maintenance.run(services), name="payments-background"),
            asyncio.create_task(
                scheduler.run(services.autopay, interval=services.settings.scheduler_interval),
                name="payments-scheduler",
            ),
        ]
        metrics_server = None
        if services.settings.metrics_port is not None:
            metrics_server = await _serve_metrics(app, services.settings)
        # Start-up objects (modules, the schema, settings, the ORM's mappers, configured here
        # rather than by the first request) live as long as the process: move them out of the
        # collector's reach, so a full collection does not walk them again.
        configure_mappers()
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        young, middle, old = thresholds
        gc.set_threshold(max(young, YOUNG_COLLECTION), middle, old)
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            if metrics_server is not None:
                metrics_server.should_exit = True
                await metrics_server.task
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await limiter.aclose()
            await services.aclose()

    graphql = GraphQLApp(services, limiter)
    routes: list[BaseRoute] = [
        # Every method reaches the view, so that a wrong one is answered in JSON too.
        Route("/graphql", graphql),
        # Subscriptions (graphql-transport-ws).
        WebSocketRoute("/graphql", graphql),
        Route("/hasura/actions", hasura_actions, methods=["POST"]),
        Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        *web.routes(services),
    ]
    if services.settings.metrics:
        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    if services.sandbox is not None:
        routes.append(Mount(SANDBOX_PREFIX, app=services.sandbox.app))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(RequestContext, quiet_paths=("/health", "/metrics"))],
    )
    app.state.services = services
    app.state.limiter = limiter
    app.state.graphql = graphql
    app.state.inbox = services.inbox
    if services.sandbox is not None:
        services.sandbox.add_webhook_endpoint(
            services.settings.server_url + "/webhooks/stripe",
            secret=services.settings.webhook_secrets[0],
            transport=httpx.ASGITransport(app=app),
        )
    return app


async def _serve_metrics(app: Starlette, settings: Settings) -> Any:
    """`/metrics` alone on PAYMENTS_METRICS_PORT (kept off the public port). With several
    worker processes one of them binds the port; with PROMETHEUS_MULTIPROC_DIR it reports all."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    try:
        sock.bind((settings.host, settings.metrics_port or 0))
    except OSError as exc:
        sock.close()
        log.warning("metrics not served on port %s: %s", settings.metrics_port, exc)
        return None
    metrics_app = Starlette(routes=[Route("/metrics", metrics_endpoint, methods=["GET"])])
    metrics_app.state.services = app.state.services
    config = uvicorn.Config(metrics_app, log_config=None, lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    server.task = asyncio.create_task(server.serve(sockets=[sock]), name="payments-metrics")  # type: ignore[attr-defined]
    return server
