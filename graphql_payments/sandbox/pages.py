"""The hosted pages a payer's browser sees: checkout, 3-D Secure and receipts.

- `GET /checkout/{session_id}`: the session's line items and total, a choice of test cards
  (or any card number, `pm_card_*` id or test IBAN typed in), Pay and Cancel buttons.
- `POST /checkout/sessions/{id}/pay` (form field `card`, or `card_number` which wins when
  filled, and optional `email`): 303 to the session's `success_url` (with
  `{CHECKOUT_SESSION_ID}` filled in) on success, 303 back to the page with the decline message
  otherwise.
- `POST /checkout/sessions/{id}/cancel`: 303 to `cancel_url`; the session stays open, as on
  Stripe when the payer clicks back.
- `GET /authenticate/{intent_id}` with `POST .../complete` and `POST .../fail`: the 3-D Secure
  challenge of a PaymentIntent or SetupIntent in `requires_action`; then 303 to the
  `return_url` given at confirmation (with `payment_intent`, `payment_intent_client_secret` and
  `redirect_status` added, as Stripe does), or a result page.
- `GET /receipts/{charge_id}`: the page a charge's `receipt_url` points to.
"""

from __future__ import annotations

import datetime
import functools
import html
from importlib import resources
from string import Template
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from graphql_payments.sandbox import checkout, intents, timers
from graphql_payments.sandbox.cards import CHECKOUT_CHOICES
from graphql_payments.sandbox.currencies import format_amount
from graphql_payments.sandbox.errors import JSON, SandboxError
from graphql_payments.sandbox.state import State, net_captured

if TYPE_CHECKING:
    from graphql_payments.sandbox.sandbox import Sandbox


@functools.cache
def _template(name: str) -> Template:
    text = resources.files("graphql_payments.sandbox").joinpath(f"templates/{name}").read_text()
    return Template(text)


def _page(title: str, template: str, *, status: int = 200, **values: str) -> HTMLResponse:
    content = _template(template).substitute(values)
    body = _template("base.html").substitute(title=html.escape(title), content=content)
    return HTMLResponse(body, status_code=status)


def _message(heading: str, message: str, *, link: str | None = None, status: int = 200) -> Response:
    anchor = f'<p><a href="{html.escape(link)}">Continue</a></p>' if link else ""
    return _page(
        heading,
        "message.html",
        status=status,
        heading=html.escape(heading),
        message=html.escape(message),
        link=anchor,
    )


async def _form(request: Request) -> dict[str, str]:
    raw = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(raw, keep_blank_values=True))


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


class Pages:
    """Route handlers bound to one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @property
    def state(self) -> State:
        return self.sandbox.state

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/checkout/{session_id}", self.checkout_page, methods=["GET"]),
            Route("/checkout/sessions/{session_id}/pay", self.pay, methods=["POST"]),
            Route("/checkout/sessions/{session_id}/cancel", self.cancel, methods=["POST"]),
            Route("/authenticate/{intent_id}", self.authenticate_page, methods=["GET"]),
            Route(
                "/authenticate/{intent_id}/complete", self.authenticate_complete, methods=["POST"]
            ),
            Route("/authenticate/{intent_id}/fail", self.authenticate_fail, methods=["POST"]),
            Route("/receipts/{charge_id}", self.receipt, methods=["GET"]),
        ]

    def _session(self, request: Request) -> JSON | None:
        timers.run_due(self.state)
        session_id: str = request.path_params["session_id"]
        return self.state.maybe("checkout.session", session_id)

    async def index(self, request: Request) -> Response:
        if not self.sandbox.allows_control(request):
            return _message(
                "Forbidden", "The sandbox index answers only loopback clients.", status=403
            )
        sessions = [s for s in self.state.all("checkout.session") if s["status"] == "open"]
        links = "".join(
            f'<li><a href="{html.escape(s["url"])}">{html.escape(s["id"][:24])}...</a></li>'
            for s in reversed(sessions[-20:])
        )
        body = "<h1>Stripe sandbox</h1><p>The Stripe API is served under <code>/v1</code>.</p>" + (
            f"<p>Open checkout sessions:</p><ul>{links}</ul>" if links else ""
        )
        content = _template("base.html").substitute(title="Stripe sandbox", content=body)
        return HTMLResponse(content)

    async def checkout_page(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return _message("Not found", "There is no such checkout session.", status=404)
        if session["status"] == "complete":
            link = checkout.success_redirect(self.state, session)
            return _message("Already paid", "This checkout session is complete.", link=link)
        if session["status"] == "expired":
            return _message("Expired", "This checkout session has expired.")
        public = self.state.public_url
        items = checkout.line_items(self.state, session)
        notes = self.state.note(session["id"]).get("line_items", [])
        rows = []
        for item, noted in zip(items, notes, strict=True):
            detail = noted.get("product_description")
            name = html.escape(item["description"])
            if detail:
                name += f'<br><span class="muted">{html.escape(detail)}</span>'
            rows.append(
                f"<tr><td>{name} &times; {item['quantity']}</td>"
                f'<td class="amount">{format_amount(item["amount_total"], item["currency"])}</td>'
                "</tr>"
            )
        if session["mode"] == "payment":
            total = format_amount(session["amount_total"], session["currency"])
            rows.append(f'<tr class="total"><td>Total</td><td class="amount">{total}</td></tr>')
            heading, pay_label = "Pay", f"Pay {total}"
        else:
            heading, pay_label = "Save a card for later payments", "Save card"
        explicit = self.state.note(session["id"]).get("explicit_types")
        choices = [
            (value, label)
            for value, label in CHECKOUT_CHOICES
            if not explicit
            or ("sepa_debit" if value[:2].isalpha() else "card") in session["payment_method_types"]
        ]
        error = request.query_params.get("error")
        email = session["customer_email"] or (session["customer_details"] or {}).get("email")
        return _page(
            "Sandbox Checkout",
            "checkout.html",
            heading=heading,
            session_id=html.escape(session["id"]),
            error=f'<p class="error">{html.escape(error)}</p>' if error else "",
            rows="\n".join(rows),
            pay_url=html.escape(f"{public}/checkout/sessions/{session['id']}/pay"),
            cancel_url=html.escape(f"{public}/checkout/sessions/{session['id']}/cancel"),
            email=html.escape(email or ""),
            choices="\n".join(
                f'    <option value="{html.escape(value)}">{html.escape(label)}</option>'
                for value, label in choices
            ),
            pay_label=html.escape(pay_label),
        )

    async def pay(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return _message("Not found", "There is no such checkout session.", status=404)
        form = await _form(request)
        choice = form.get("card_number", "").strip() or form.get("card", "").strip()
        page = f"{self.state.public_url}/checkout/{session['id']}"
        if not choice:
            return _see_other(f"{page}?{urlencode({'error': 'Choose a payment method.'})}")
        try:
            outcome = await self.sandbox.pay_checkout_session(
                session["id"], choice, email=form.get("email") or None
            )
        except SandboxError as error:
            return _see_other(f"{page}?{urlencode({'error': error.message})}")
        if not outcome.succeeded or outcome.redirect_url is None:
            message = (outcome.error or {}).get("message", "The payment failed.")
            return _see_other(f"{page}?{urlencode({'error': message})}")
        return _see_other(outcome.redirect_url)

    async def cancel(self, request: Request) -> Response:
        session = self._session(request)
        if session is None:
            return _message("Not found", "There is no such checkout session.", status=404)
        return _see_other(await self.sandbox.cancel_checkout_session(session["id"]))

    def _intent(self, request: Request) -> JSON | None:
        timers.run_due(self.state)
        intent_id: str = request.path_params["intent_id"]
        kind = "setup_intent" if intent_id.startswith("seti_") else "payment_intent"
        return self.state.maybe(kind, intent_id)

    async def authenticate_page(self, request: Request) -> Response:
        intent = self._intent(request)
        if intent is None:
            return _message("Not found", "There is no such payment.", status=404)
        if intent["status"] != "requires_action":
            return _message(
                "Nothing to authenticate",
                f"This payment does not need authentication (status: {intent['status']}).",
            )
        pm = self.state.get("payment_method", intent["payment_method"])
        base = f"{self.state.public_url}/authenticate/{intent['id']}"
        amount = (
            format_amount(intent["amount"], intent["currency"])
            if intent["object"] == "payment_intent"
            else "0 (saving the card)"
        )
        return _page(
            "3-D Secure",
            "authenticate.html",
            merchant="The merchant",
            amount=html.escape(amount),
            last4=html.escape((pm.get("card") or {}).get("last4", "")),
            intent_id=html.escape(intent["id"]),
            complete_url=html.escape(f"{base}/complete"),
            fail_url=html.escape(f"{base}/fail"),
        )

    async def _finish(self, request: Request, *, succeed: bool) -> Response:
        intent = self._intent(request)
        if intent is None:
            return _message("Not found", "There is no such payment.", status=404)
        try:
            updated = await self.sandbox.complete_authentication(intent["id"], succeed=succeed)
        except SandboxError as error:
            return _message("Nothing to authenticate", error.message, status=400)
        target = intents.redirect_after_authentication(self.state, updated)
        if target is not None:
            return _see_other(target)
        if succeed:
            return _message("Authenticated", "Authentication complete; you can close this page.")
        return _message("Authentication failed", "The payment was not authenticated.")

    async def authenticate_complete(self, request: Request) -> Response:
        return await self._finish(request, succeed=True)

    async def authenticate_fail(self, request: Request) -> Response:
        return await self._finish(request, succeed=False)

    async def receipt(self, request: Request) -> Response:
        charge = self.state.maybe("charge", request.path_params["charge_id"])
        if charge is None:
            return _message("Not found", "There is no such receipt.", status=404)
        details = charge["payment_method_details"]
        if details["type"] == "card":
            method = f"{details['card']['brand'].title()} ending in {details['card']['last4']}"
        else:
            method = f"SEPA Direct Debit ending in {details['sepa_debit']['last4']}"
        date = datetime.datetime.fromtimestamp(charge["created"], tz=datetime.UTC)
        description = f": {html.escape(charge['description'])}" if charge["description"] else ""
        return _page(
            "Receipt",
            "receipt.html",
            amount=format_amount(charge["amount_captured"] or charge["amount"], charge["currency"]),
            # refunds of the paid amount, not the released remainder of a partial capture
            refunded=format_amount(
                charge["amount_captured"] - net_captured(charge), charge["currency"]
            ),
            date=date.strftime("%Y-%m-%d %H:%M UTC"),
            method=html.escape(method),
            charge_status=html.escape(charge["status"]),
            charge_id=html.escape(charge["id"]),
            description=description,
        )
