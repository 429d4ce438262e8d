"""Route handlers of the browser pages (see the package docstring)."""

from __future__ import annotations

import functools
import html
import json
import re
import secrets
import time
from importlib import metadata, resources
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlencode

import jwt
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from graphql_payments import __version__
from graphql_payments.auth.principal import ADMIN, HASURA_CLAIMS, USER
from graphql_payments.config import PAY_CANCEL_PATH, PAY_RETURN_PATH, PAY_SUCCESS_PATH
from graphql_payments.money import format_amount
from graphql_payments.payments.models import PaymentKind, PaymentRecord, PaymentStatus
from graphql_payments.payments.service import WAITING_FOR_STRIPE
from graphql_payments.services import Services

STATIC_PREFIX = "/static"
CDN = "https://unpkg.com/"
VENDORED = STATIC_PREFIX + "/vendor/"
DEMO_TOKEN_TTL = 24 * 3600
DEMO_USER_PREFIX = "demo-"
# A payment's page changes with its status, and is the customer's: no cache keeps it.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
SANDBOX_BADGE = '<span class="badge">Sandbox: test mode, no real money moves</span>'

GOOD = {PaymentStatus.SUCCEEDED, PaymentStatus.AUTHORIZED, PaymentStatus.RELEASED}
BAD = {PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.CANCELED}


@functools.cache
def _template(name: str) -> Template:
    text = resources.files("graphql_payments.web").joinpath(f"templates/{name}").read_text()
    return Template(text)


def _page(
    title: str, template: str, *, wide: bool = False, http_status: int = 200, **values: str
) -> Response:
    content = _template(template).substitute(values)
    body = _template("base.html").substitute(
        title=html.escape(title), content=content, width="wide" if wide else ""
    )
    return HTMLResponse(body, status_code=http_status)


def _not_found(what: str) -> Response:
    return _page(
        "Not found",
        "message.html",
        http_status=404,
        heading="Not found",
        message=html.escape(f"There is no {what} here."),
    )


@functools.cache
def graphiql_html(strawberry_html: str) -> str:
    """Strawberry's GraphiQL page with its CDN scripts served by this app (same pinned
    versions and integrity hashes), so it works without internet."""
    return strawberry_html.replace(CDN, VENDORED)


@functools.cache
def readme() -> str:
    """The README of the source tree, else of the installed distribution."""
    source = Path(__file__).resolve().parents[2] / "README.md"
    if source.exists():
        return source.read_text()
    try:
        text = metadata.metadata("graphql-payments")["Description"]
    except metadata.PackageNotFoundError:
        text = None
    return text if isinstance(text, str) and text.strip() else "# graphql-payments\n"


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def readme_sections() -> list[str]:
    return [line[3:].strip() for line in readme().splitlines() if line.startswith("## ")]


def _readme_html() -> str:
    parts: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if any(line.strip() for line in block):
            parts.append(f'<pre class="readme">{html.escape(chr(10).join(block).strip())}</pre>')
        block.clear()

    fenced = False
    for line in readme().splitlines():
        fenced = fenced != line.startswith("```")
        heading = re.match(r"(#{1,3}) (.*)", line)
        if heading and not fenced:
            flush()
            level, title = len(heading.group(1)), heading.group(2)
            parts.append(f'<h{level} id="{slug(title)}">{html.escape(title)}</h{level}>')
        else:
            block.append(line)
    flush()
    return "\n".join(parts)


class Pages:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings

    @property
    def sandbox(self) -> bool:
        return self.services.sandbox is not None

    async def landing(self, request: Request) -> Response:
        links = []
        if self.sandbox:
            links.append(
                '<li><a href="/_sandbox/">The Stripe sandbox</a>: open checkout sessions, '
                "the API at <code>/_sandbox/v1</code></li>"
            )
        if self.settings.demo_enabled:
            links.append(
                '<li><a href="/demo">The demo shop</a>: buy credits as a made-up user</li>'
            )
        sections = "\n".join(
            f'<li><a href="/readme#{slug(s)}">{html.escape(s)}</a></li>' for s in readme_sections()
        )
        mode = "sandbox mode (the built-in Stripe sandbox)" if self.sandbox else "talking to Stripe"
        graphiql = (
            '<li><a href="/graphql">GraphiQL</a>: explore and call the API '
            "(<code>POST /graphql</code>)</li>"
            if self.settings.graphiql
            else "<li>The API: <code>POST /graphql</code></li>"
        )
        return _page(
            "graphql-payments",
            "landing.html",
            badge=SANDBOX_BADGE if self.sandbox else "",
            version=html.escape(__version__),
            mode=mode,
            graphiql=graphiql,
            links="\n".join(links),
            sections=sections,
        )

    async def readme(self, request: Request) -> Response:
        body = _template("base.html").substitute(
            title="graphql-payments: README", content=_readme_html(), width="wide"
        )
        return HTMLResponse(body)

    async def _payment(self, request: Request) -> tuple[PaymentRecord | None, str]:
        """The payment a return URL names, and the query that names it."""
        session_id = request.query_params.get("session_id", "")
        intent_id = request.query_params.get("payment_intent", "")
        if session_id:
            query = urlencode({"session_id": session_id})
        elif intent_id:
            query = urlencode({"payment_intent": intent_id})
        else:
            return None, ""
        payment = await self.services.payments.for_return_page(
            checkout_session_id=session_id or None, payment_intent_id=intent_id or None
        )
        return payment, query

    async def status(self, request: Request) -> Response:
        payment, _ = await self._payment(request)
        if payment is None:
            return JSONResponse({"error": "no such payment"}, status_code=404)
        return JSONResponse(
            {
                "status": payment.status.value,
                "final": payment.status not in WAITING_FOR_STRIPE,
                "amount": format_amount(payment.amount, payment.currency),
                "credits": payment.credits,
                "message": _message(payment),
            },
            headers=NO_STORE,
        )

    async def success(self, request: Request) -> Response:
        return await self._return_page(request, "Thank you")

    async def cancel(self, request: Request) -> Response:
        return await self._return_page(request, "Payment canceled", canceled=True)

    async def returned(self, request: Request) -> Response:
        return await self._return_page(request, "Card authentication")

    async def _return_page(
        self, request: Request, heading: str, *, canceled: bool = False
    ) -> Response:
        payment, query = await self._payment(request)
        if payment is None:
            return _not_found("payment")
        status = payment.status
        actions = []
        message = _message(payment)
        if canceled and status in WAITING_FOR_STRIPE:
            message = "You left the payment page: nothing was charged."
            if payment.checkout_url:
                actions.append(
                    f'<a class="button primary" href="{html.escape(payment.checkout_url)}">'
                    "Try again</a>"
                )
        if self.settings.demo_enabled:
            actions.append('<a class="button secondary" href="/demo">Back to the shop</a>')
        credits = ""
        if payment.kind == PaymentKind.CREDIT_PURCHASE and payment.credits:
            credits = f'<dt>Credits</dt><dd id="credits">{payment.credits}</dd>'
        tone = "good" if status in GOOD else "bad" if status in BAD else ""
        if status in WAITING_FOR_STRIPE:
            tone = "wait"
        final = status not in WAITING_FOR_STRIPE
        response = _page(
            heading,
            "payment.html",
            heading=html.escape(heading),
            status=status.value,
            tone=tone,
            message=html.escape(message),
            amount=html.escape(format_amount(payment.amount, payment.currency)),
            credits=credits,
            actions="\n".join(actions),
            status_url=html.escape(f"/pay/status?{query}"),
            final="true" if final else "false",
            waiting_hidden="hidden" if final else "",
        )
        response.headers.update(NO_STORE)
        return response

    async def demo(self, request: Request) -> Response:
        return _page(
            "Demo shop",
            "demo.html",
            wide=True,
            badge=SANDBOX_BADGE if self.sandbox else "",
            sandbox="true" if self.sandbox else "false",
        )

    async def demo_session(self, request: Request) -> Response:
        """A token for a made-up user `demo-<name>` (an admin too in sandbox mode)."""
        try:
            body: Any = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": "Send a JSON object {name}."}, status_code=400)
        name = re.sub(r"[^a-z0-9]+", "-", str(body.get("name") or "").lower()).strip("-")[:40]
        if not name:
            return JSONResponse({"error": "Give a name: letters or digits."}, status_code=400)
        admin = bool(body.get("admin"))
        if admin and not self.sandbox:
            return JSONResponse(
                {"error": "The demo acts as an admin only in sandbox mode."}, status_code=403
            )
        if self.settings.jwt_secret is None:
            return JSONResponse(
                {"error": "The demo signs its users in with PAYMENTS_JWT_SECRET: set it."},
                status_code=503,
            )
        user_id = DEMO_USER_PREFIX + name
        role = ADMIN if admin else USER
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": user_id,
            "iat": now,
            "exp": now + DEMO_TOKEN_TTL,
            "jti": secrets.token_hex(8),
            HASURA_CLAIMS: {
                "x-hasura-user-id": user_id,
                "x-hasura-default-role": role,
                "x-hasura-allowed-roles": [role],
            },
        }
        if self.settings.jwt_audience:
            claims["aud"] = self.settings.jwt_audience
        if self.settings.jwt_issuer:
            claims["iss"] = self.settings.jwt_issuer
        token = jwt.encode(claims, self.settings.jwt_secret.get_secret_value(), algorithm="HS256")
        return JSONResponse({"token": token, "userId": user_id, "role": role})


def _message(payment: PaymentRecord) -> str:
    """One sentence on where the payment stands, for its customer."""
    amount = format_amount(payment.amount, payment.currency)
    status = payment.status
    if status == PaymentStatus.PENDING:
        if payment.failure_message:
            return f"Not paid yet: {payment.failure_message}"
        return "Waiting for the payment provider to confirm the payment."
    if status == PaymentStatus.REQUIRES_ACTION:
        return "Waiting for the card's authentication (3-D Secure)."
    if status == PaymentStatus.SUCCEEDED:
        if payment.kind == PaymentKind.CREDIT_PURCHASE and payment.credits:
            return f"Payment received: {payment.credits} credits are on your balance."
        return f"Payment of {amount} received."
    if status == PaymentStatus.AUTHORIZED:
        return f"Your card is authorized: {amount} is held until the order is completed."
    if status == PaymentStatus.FAILED:
        reason = payment.failure_message or "the card was declined"
        return f"The payment failed: {reason} Nothing was charged."
    if status == PaymentStatus.EXPIRED:
        return "This payment expired before it was completed. Nothing was charged."
    if status == PaymentStatus.CANCELED:
        return "This payment was canceled. Nothing was charged."
    if status == PaymentStatus.RELEASED:
        return f"The order is complete: {amount} was paid."
    if status == PaymentStatus.REVERTED:
        return "The order was called off: the money was given back."
    if status in (PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED):
        return "This payment was refunded, in part or in full."
    return "This payment is disputed."


def routes(services: Services) -> list[BaseRoute]:
    """The pages' routes for this app's services."""
    pages = Pages(services)
    found: list[BaseRoute] = [
        Route("/", pages.landing, methods=["GET"]),
        Route("/readme", pages.readme, methods=["GET"]),
        Route(PAY_SUCCESS_PATH, pages.success, methods=["GET"]),
        Route(PAY_CANCEL_PATH, pages.cancel, methods=["GET"]),
        Route(PAY_RETURN_PATH, pages.returned, methods=["GET"]),
        Route("/pay/status", pages.status, methods=["GET"]),
        Mount(
            STATIC_PREFIX,
            app=StaticFiles(packages=[("graphql_payments.web", "static")]),
            name="static",
        ),
    ]
    if services.settings.demo_enabled:
        found += [
            Route("/demo", pages.demo, methods=["GET"]),
            Route("/demo/session", pages.demo_session, methods=["POST"]),
        ]
    return found
