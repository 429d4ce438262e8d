"""`create_app`: the Starlette application.

Routes: `/graphql` (GraphiQL on GET), `/webhooks/stripe`, `/health`, and in sandbox mode the
Stripe sandbox at `/_sandbox` (its API at `/_sandbox/v1/...`). Engines and clients are built
here rather than in the lifespan, because `httpx.ASGITransport` does not run a lifespan; the
lifespan only starts the background workers (webhook retries and key expiry; the autopay
scheduler) and closes what the factory opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from graphql_payments import __version__, maintenance
from graphql_payments.autopay import scheduler
from graphql_payments.config import Settings
from graphql_payments.db import Database
from graphql_payments.gateway import StripeGateway
from graphql_payments.graphql.view import GraphQLApp
from graphql_payments.ratelimit import RateLimiter
from graphql_payments.services import Services
from graphql_payments.webhooks.routes import stripe_webhook

log = logging.getLogger(__name__)

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
        await asyncio.wait_for(services.db.ping(), timeout=5)
        body["database"] = "ok"
    except Exception as exc:
        log.warning("health check: database unavailable: %s", exc)
        body.update(status="unavailable", database="unavailable")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


def build_services(settings: Settings) -> Services:
    db = Database(settings.database_url)
    if not settings.sandbox_mode:
        gateway = StripeGateway.create(
            settings.stripe_key,
            api_base=settings.stripe_api_base,
            api_version=settings.stripe_api_version,
            timeout=settings.stripe_timeout,
            max_network_retries=settings.stripe_max_retries,
        )
        return Services.build(settings, db=db, gateway=gateway)

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
    gateway = StripeGateway.create(
        settings.stripe_key,
        api_base=SANDBOX_INTERNAL_BASE,
        api_version=settings.stripe_api_version,
        timeout=settings.stripe_timeout,
        max_network_retries=settings.stripe_max_retries,
        transport=httpx.ASGITransport(app=sandbox.app),
    )
    services = Services.build(settings, db=db, gateway=gateway, sandbox=sandbox)
    # As with Stripe test clocks: moving the sandbox clock makes due autopays run.
    sandbox.on_clock_advance(lambda _now: services.autopay.sweep())
    return services


def create_app(settings: Settings | None = None) -> Starlette:
    """The application for `settings` (read from the environment when None)."""
    settings = settings or Settings.load()
    services = build_services(settings)
    limiter = RateLimiter(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if services.sandbox is not None:
            log.warning(
                "SANDBOX MODE: no STRIPE_SECRET_KEY is set, so payments go to the built-in "
                "Stripe sandbox at %s%s. No real money moves.",
                services.settings.server_url,
                SANDBOX_PREFIX,
            )
        workers = [
            asyncio.create_task(maintenance.run(services), name="payments-background"),
            asyncio.create_task(
                scheduler.run(services.autopay, interval=services.settings.scheduler_interval),
                name="payments-scheduler",
            ),
        ]
        try:
            yield
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await limiter.aclose()
            await services.aclose()

    routes: list[Route | Mount] = [
        # Every method reaches the view, so that a wrong one is answered in JSON too.
        Route("/graphql", GraphQLApp(services, limiter)),
        Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    if services.sandbox is not None:
        routes.append(Mount(SANDBOX_PREFIX, app=services.sandbox.app))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.services = services
    app.state.limiter = limiter
    app.state.inbox = services.inbox
    if services.sandbox is not None:
        services.sandbox.add_webhook_endpoint(
            services.settings.server_url + "/webhooks/stripe",
            secret=services.settings.webhook_secrets[0],
            transport=httpx.ASGITransport(app=app),
        )
    return app
