"""The `/v1` Stripe API: authentication, faults, parameters, idempotency, routing, expansion.

Each call goes through the steps Stripe's API takes, in order:

1. injected latency and failures (`Faults`);
2. the API key: `Authorization: Bearer sk_test_...` (or HTTP basic with the key as user).
   Test keys (`sk_test_` / `rk_test_`) are accepted (only the sandbox's `api_keys` when that
   set is not empty); live keys, other strings or no key answer 401 as Stripe does;
3. the route (`404 Unrecognized request URL` otherwise) and its parameters, checked against
   the SDK's parameter types (`params`);
4. the idempotency key (`idempotency`);
5. the operation itself, attributed to the request (`request.id` and `idempotency_key` of the
   events it records), then `expand[]`.

Answers carry `Request-Id` and `Stripe-Version` headers like Stripe's. The sandbox models one
API release (`API_VERSION`, the one the supported stripe-python pins); a `Stripe-Version` of
another release answers 400 rather than shapes that version would not have.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import stripe.params as sp
import stripe.params.checkout as spc
from starlette.requests import Request
from starlette.responses import Response

from graphql_payments.sandbox import (
    balance,
    checkout,
    connect,
    customers,
    disputes,
    intents,
    refunds,
    timers,
)
from graphql_payments.sandbox.errors import (
    JSON,
    SandboxError,
    api_error,
    authentication,
    invalid,
    not_found,
)
from graphql_payments.sandbox.faults import Faults
from graphql_payments.sandbox.idempotency import IdempotencyStore, StoredResponse
from graphql_payments.sandbox.params import parse_form, validate
from graphql_payments.sandbox.state import (
    API_RELEASE,
    API_VERSION,
    DISPLAY_NAMES,
    State,
    list_envelope,
    new_id,
    paginate,
    random_token,
    update_object,
)
from graphql_payments.sandbox.webhooks import WebhookEndpoint, Webhooks


@dataclass
class Services:
    """Everything an API call may touch."""

    state: State
    webhooks: Webhooks
    faults: Faults
    idempotency: IdempotencyStore
    api_keys: set[str] = field(default_factory=set)


@dataclass
class Call:
    services: Services
    params: JSON
    args: dict[str, str]

    @property
    def state(self) -> State:
        return self.services.state

    def arg(self, name: str = "id") -> str:
        return self.args[name]

    def show(self, obj: JSON) -> JSON:
        return self.state.render(obj)

    def page(self, objects: list[JSON], url: str) -> JSON:
        return paginate(self.state, objects, self.params, url)


Handler = Callable[[Call], JSON]


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    schema: type
    handler: Handler
    pattern: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{regex}$")


# -- handlers ----------------------------------------------------------------------------------


def _filter(objects: list[JSON], params: JSON, *keys: str) -> list[JSON]:
    for key in keys:
        if params.get(key):
            objects = [obj for obj in objects if obj.get(key) == params[key]]
    return objects


def _customer_retrieve(call: Call) -> JSON:
    customer_id = call.arg()
    tombstone = call.state.notes.get(customer_id, {}).get("deleted")
    if tombstone is not None:
        return dict(tombstone)
    return call.show(call.state.get("customer", customer_id))


def _customer_list(call: Call) -> JSON:
    return call.page(_filter(call.state.all("customer"), call.params, "email"), "/v1/customers")


def _children(parent: str, kind: str, link: str, url: str, *filters: str) -> Handler:
    """List the objects of `kind` whose `link` names the `parent` object in the path."""

    def handler(call: Call) -> JSON:
        owner = call.state.get(parent, call.arg())
        found = [obj for obj in call.state.all(kind) if obj[link] == owner["id"]]
        return call.page(_filter(found, call.params, *filters), url.format(id=owner["id"]))

    return handler


def _child(parent: str, kind: str, link: str, arg: str) -> Handler:
    """Retrieve the object of `kind` named by `{arg}`, which must belong to the parent object."""

    def handler(call: Call) -> JSON:
        owner = call.state.get(parent, call.arg())
        child = call.state.get(kind, call.arg(arg))
        if child[link] != owner["id"]:
            raise not_found(DISPLAY_NAMES[kind], child["id"])
        return call.show(child)

    return handler


def _pm_list(call: Call) -> JSON:
    methods = _filter(call.state.all("payment_method"), call.params, "customer", "type")
    if not call.params.get("customer"):
        methods = [pm for pm in methods if pm["customer"] is not None]
    return call.page(methods, "/v1/payment_methods")


def _pm_attach(call: Call) -> JSON:
    customer_id = call.params.get("customer")
    if not customer_id:
        raise invalid(
            "Missing required param: customer.", param="customer", code="parameter_missing"
        )
    call.state.get("customer", customer_id, param="customer")
    pm = customers.resolve_payment_method(call.state, call.arg())
    return call.show(customers.attach_payment_method(call.state, pm, customer_id))


def _pi_cancel(call: Call) -> JSON:
    pi = call.state.get("payment_intent", call.arg())
    reason = call.params.get("cancellation_reason")
    return call.show(intents.cancel_payment_intent(call.state, pi, reason=reason))


def _si_cancel(call: Call) -> JSON:
    si = call.state.get("setup_intent", call.arg())
    reason = call.params.get("cancellation_reason")
    return call.show(intents.cancel_setup_intent(call.state, si, reason=reason))


def _session_list(call: Call) -> JSON:
    sessions = _filter(
        call.state.all("checkout.session"),
        call.params,
        "payment_intent",
        "customer",
        "status",
        "client_reference_id",
    )
    return call.page(sessions, "/v1/checkout/sessions")


def _session_line_items(call: Call) -> JSON:
    session = call.state.get("checkout.session", call.arg())
    items = checkout.line_items(call.state, session)
    return paginate(
        call.state,
        list(reversed(items)),
        call.params,
        f"/v1/checkout/sessions/{session['id']}/line_items",
    )


_reversal = _child("transfer", "transfer_reversal", "transfer", "reversal")


def _reversal_update(call: Call) -> JSON:
    reversal = _reversal(call)
    stored = call.state.get("transfer_reversal", reversal["id"])
    return call.show(update_object(call.state, stored, call.params))


def _dispute_list(call: Call) -> JSON:
    found = _filter(call.state.all("dispute"), call.params, "charge", "payment_intent")
    return call.page(found, "/v1/disputes")


def _dispute_close(call: Call) -> JSON:
    dispute = call.state.get("dispute", call.arg())
    return call.show(disputes.close_dispute(call.state, dispute, won=False))


def _event_list(call: Call) -> JSON:
    events = call.state.all("event")
    pattern = call.params.get("type")
    if pattern:
        events = [event for event in events if fnmatch.fnmatchcase(event["type"], pattern)]
    wanted = call.params.get("types")
    if wanted:
        events = [event for event in events if event["type"] in wanted]
    if call.params.get("delivery_success") is not None:
        success = call.params["delivery_success"]
        events = [event for event in events if (event["pending_webhooks"] == 0) == success]
    return call.page(events, "/v1/events")


def _balance_transactions(call: Call) -> JSON:
    found = _filter(
        call.state.all("balance_transaction"), call.params, "type", "source", "currency"
    )
    return call.page(found, "/v1/balance_transactions")


def _endpoint_create(call: Call) -> JSON:
    params = call.params
    url = params.get("url")
    if not url:
        raise invalid("Missing required param: url.", param="url", code="parameter_missing")
    events = params.get("enabled_events")
    if not events:
        raise invalid(
            "Missing required param: enabled_events.",
            param="enabled_events",
            code="parameter_missing",
        )
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        url=url,
        secret="whsec_" + random_token(32),
        enabled_events=tuple(events),
        created=call.state.now(),
        description=params.get("description"),
        metadata=dict(params.get("metadata") or {}),
    )
    call.services.webhooks.add(endpoint)
    return endpoint.to_stripe(with_secret=True)


def _endpoint(call: Call) -> WebhookEndpoint:
    endpoint = call.services.webhooks.endpoints.get(call.arg())
    if endpoint is None:
        raise not_found("webhook endpoint", call.arg())
    return endpoint


def _endpoint_update(call: Call) -> JSON:
    endpoint = _endpoint(call)
    if call.params.get("url"):
        endpoint.url = call.params["url"]
    if call.params.get("enabled_events"):
        endpoint.enabled_events = tuple(call.params["enabled_events"])
    if "disabled" in call.params:
        endpoint.disabled = bool(call.params["disabled"])
    if "description" in call.params:
        endpoint.description = call.params["description"] or None
    if isinstance(call.params.get("metadata"), dict):
        endpoint.metadata.update(call.params["metadata"])
    return endpoint.to_stripe()


def _endpoint_delete(call: Call) -> JSON:
    endpoint = _endpoint(call)
    call.services.webhooks.remove(endpoint.id)
    return {"id": endpoint.id, "object": "webhook_endpoint", "deleted": True}


def _get(kind: str) -> Handler:
    """Retrieve one object of `kind` by the `{id}` in the path."""
    return lambda call: call.show(call.state.get(kind, call.arg()))


def _create(operation: Callable[[State, JSON], JSON]) -> Handler:
    """Create an object from the parameters."""
    return lambda call: call.show(operation(call.state, call.params))


def _on(kind: str, operation: Callable[[State, JSON, JSON], JSON]) -> Handler:
    """Apply an operation with parameters to the object of `kind` named in the path."""
    return lambda call: call.show(
        operation(call.state, call.state.get(kind, call.arg()), call.params)
    )


def _on_bare(kind: str, operation: Callable[[State, JSON], JSON]) -> Handler:
    """Apply a parameterless operation to the object of `kind` named in the path."""
    return lambda call: call.show(operation(call.state, call.state.get(kind, call.arg())))


def _list(kind: str, url: str, *filters: str) -> Handler:
    """List objects of `kind`, filtered by equality on the named parameters."""
    return lambda call: call.page(_filter(call.state.all(kind), call.params, *filters), url)


ROUTE_TABLE: list[tuple[str, str, type, Handler]] = [
    # customers and payment methods
    ("POST", "/v1/customers", sp.CustomerCreateParams, _create(customers.create_customer)),
    ("GET", "/v1/customers", sp.CustomerListParams, _customer_list),
    ("GET", "/v1/customers/{id}", sp.CustomerRetrieveParams, _customer_retrieve),
    ("POST", "/v1/customers/{id}", sp.CustomerUpdateParams,
     _on("customer", customers.update_customer)),
    ("DELETE", "/v1/customers/{id}", sp.CustomerDeleteParams,
     lambda c: customers.delete_customer(c.state, c.state.get("customer", c.arg()))),
    ("GET", "/v1/customers/{id}/payment_methods", sp.CustomerPaymentMethodListParams,
     _children("customer", "payment_method", "customer", "/v1/customers/{id}/payment_methods",
               "type")),
    ("GET", "/v1/customers/{id}/payment_methods/{pm}", sp.CustomerPaymentMethodRetrieveParams,
     _child("customer", "payment_method", "customer", "pm")),
    ("POST", "/v1/payment_methods", sp.PaymentMethodCreateParams,
     _create(customers.create_payment_method)),
    ("GET", "/v1/payment_methods", sp.PaymentMethodListParams, _pm_list),
    ("GET", "/v1/payment_methods/{id}", sp.PaymentMethodRetrieveParams, _get("payment_method")),
    ("POST", "/v1/payment_methods/{id}", sp.PaymentMethodUpdateParams,
     _on("payment_method", customers.update_payment_method)),
    ("POST", "/v1/payment_methods/{id}/attach", sp.PaymentMethodAttachParams, _pm_attach),
    ("POST", "/v1/payment_methods/{id}/detach", sp.PaymentMethodDetachParams,
     _on_bare("payment_method", customers.detach_payment_method)),
    # payment intents, setup intents, charges
    ("POST", "/v1/payment_intents", sp.PaymentIntentCreateParams,
     _create(intents.create_payment_intent)),
    ("GET", "/v1/payment_intents", sp.PaymentIntentListParams,
     _list("payment_intent", "/v1/payment_intents", "customer")),
    ("GET", "/v1/payment_intents/{id}", sp.PaymentIntentRetrieveParams, _get("payment_intent")),
    ("POST", "/v1/payment_intents/{id}", sp.PaymentIntentUpdateParams,
     _on("payment_intent", intents.update_payment_intent)),
    ("POST", "/v1/payment_intents/{id}/confirm", sp.PaymentIntentConfirmParams,
     _on("payment_intent", intents.confirm_payment_intent)),
    ("POST", "/v1/payment_intents/{id}/capture", sp.PaymentIntentCaptureParams,
     _on("payment_intent", intents.capture_payment_intent)),
    ("POST", "/v1/payment_intents/{id}/cancel", sp.PaymentIntentCancelParams, _pi_cancel),
    ("POST", "/v1/setup_intents", sp.SetupIntentCreateParams,
     _create(intents.create_setup_intent)),
    ("GET", "/v1/setup_intents", sp.SetupIntentListParams,
     _list("setup_intent", "/v1/setup_intents", "customer", "payment_method")),
    ("GET", "/v1/setup_intents/{id}", sp.SetupIntentRetrieveParams, _get("setup_intent")),
    ("POST", "/v1/setup_intents/{id}", sp.SetupIntentUpdateParams,
     _on("setup_intent", intents.update_setup_intent)),
    ("POST", "/v1/setup_intents/{id}/confirm", sp.SetupIntentConfirmParams,
     _on("setup_intent", intents.confirm_setup_intent)),
    ("POST", "/v1/setup_intents/{id}/cancel", sp.SetupIntentCancelParams, _si_cancel),
    ("GET", "/v1/charges", sp.ChargeListParams,
     _list("charge", "/v1/charges", "customer", "payment_intent", "transfer_group")),
    ("GET", "/v1/charges/{id}", sp.ChargeRetrieveParams, _get("charge")),
    ("POST", "/v1/charges/{id}", sp.ChargeUpdateParams, _on("charge", intents.update_charge)),
    ("GET", "/v1/charges/{id}/refunds", sp.ChargeListRefundsParams,
     _children("charge", "refund", "charge", "/v1/charges/{id}/refunds")),
    ("GET", "/v1/charges/{id}/refunds/{refund}", sp.ChargeRetrieveRefundParams,
     _child("charge", "refund", "charge", "refund")),
    # refunds
    ("POST", "/v1/refunds", sp.RefundCreateParams, _create(refunds.create_refund)),
    ("GET", "/v1/refunds", sp.RefundListParams,
     _list("refund", "/v1/refunds", "charge", "payment_intent")),
    ("GET", "/v1/refunds/{id}", sp.RefundRetrieveParams, _get("refund")),
    ("POST", "/v1/refunds/{id}", sp.RefundUpdateParams, _on("refund", refunds.update_refund)),
    ("POST", "/v1/refunds/{id}/cancel", sp.RefundCancelParams,
     _on_bare("refund", refunds.cancel_refund)),
    # checkout
    ("POST", "/v1/checkout/sessions", spc.SessionCreateParams,
     _create(checkout.create_session)),
    ("GET", "/v1/checkout/sessions", spc.SessionListParams, _session_list),
    ("GET", "/v1/checkout/sessions/{id}", spc.SessionRetrieveParams, _get("checkout.session")),
    ("POST", "/v1/checkout/sessions/{id}", spc.SessionUpdateParams,
     _on("checkout.session", checkout.update_session)),
    ("POST", "/v1/checkout/sessions/{id}/expire", spc.SessionExpireParams,
     _on_bare("checkout.session", checkout.expire_session)),
    ("GET", "/v1/checkout/sessions/{id}/line_items", spc.SessionLineItemListParams,
     _session_line_items),
    # connect
    ("GET", "/v1/account", sp.AccountRetrieveCurrentParams,
     lambda c: connect.platform_account(c.state)),
    ("POST", "/v1/accounts", sp.AccountCreateParams, _create(connect.create_account)),
    ("GET", "/v1/accounts", sp.AccountListParams, _list("account", "/v1/accounts")),
    ("GET", "/v1/accounts/{id}", sp.AccountRetrieveParams, _get("account")),
    ("POST", "/v1/accounts/{id}", sp.AccountUpdateParams,
     _on("account", connect.update_account)),
    ("POST", "/v1/transfers", sp.TransferCreateParams, _create(connect.create_transfer)),
    ("GET", "/v1/transfers", sp.TransferListParams,
     _list("transfer", "/v1/transfers", "destination", "transfer_group")),
    ("GET", "/v1/transfers/{id}", sp.TransferRetrieveParams, _get("transfer")),
    ("POST", "/v1/transfers/{id}", sp.TransferUpdateParams,
     _on("transfer", connect.update_transfer)),
    ("POST", "/v1/transfers/{id}/reversals", sp.TransferReversalCreateParams,
     _on("transfer", connect.reverse_transfer)),
    ("GET", "/v1/transfers/{id}/reversals", sp.TransferReversalListParams,
     _children("transfer", "transfer_reversal", "transfer", "/v1/transfers/{id}/reversals")),
    ("GET", "/v1/transfers/{id}/reversals/{reversal}", sp.TransferReversalRetrieveParams,
     _reversal),
    ("POST", "/v1/transfers/{id}/reversals/{reversal}", sp.TransferReversalUpdateParams,
     _reversal_update),
    # disputes
    ("GET", "/v1/disputes", sp.DisputeListParams, _dispute_list),
    ("GET", "/v1/disputes/{id}", sp.DisputeRetrieveParams, _get("dispute")),
    ("POST", "/v1/disputes/{id}", sp.DisputeUpdateParams,
     _on("dispute", disputes.update_dispute)),
    ("POST", "/v1/disputes/{id}/close", sp.DisputeCloseParams, _dispute_close),
    # events and balance
    ("GET", "/v1/events", sp.EventListParams, _event_list),
    ("GET", "/v1/events/{id}", sp.EventRetrieveParams, _get("event")),
    ("GET", "/v1/balance", sp.BalanceRetrieveParams, lambda c: balance.balance(c.state)),
    ("GET", "/v1/balance_transactions", sp.BalanceTransactionListParams,
     _balance_transactions),
    ("GET", "/v1/balance_transactions/{id}", sp.BalanceTransactionRetrieveParams,
     _get("balance_transaction")),
    # webhook endpoints
    ("POST", "/v1/webhook_endpoints", sp.WebhookEndpointCreateParams, _endpoint_create),
    ("GET", "/v1/webhook_endpoints", sp.WebhookEndpointListParams,
     lambda c: c.page([e.to_stripe() for e in c.services.webhooks.endpoints.values()],
                      "/v1/webhook_endpoints")),
    ("GET", "/v1/webhook_endpoints/{id}", sp.WebhookEndpointRetrieveParams,
     lambda c: _endpoint(c).to_stripe()),
    ("POST", "/v1/webhook_endpoints/{id}", sp.WebhookEndpointUpdateParams, _endpoint_update),
    ("DELETE", "/v1/webhook_endpoints/{id}", sp.WebhookEndpointDeleteParams, _endpoint_delete),
]  # fmt: skip


def _build_routes() -> list[Endpoint]:
    return [
        Endpoint(method, template, schema, handler, _compile(template))
        for method, template, schema, handler in ROUTE_TABLE
    ]


ROUTES = _build_routes()


def match(method: str, path: str) -> tuple[Endpoint, dict[str, str]] | None:
    for endpoint in ROUTES:
        if endpoint.method != method:
            continue
        found = endpoint.pattern.match(path)
        if found:
            return endpoint, found.groupdict()
    return None


# -- expansion ---------------------------------------------------------------------------------


def _not_expandable(path: str) -> SandboxError:
    return invalid(f"This property cannot be expanded ({path}).", param="expand")


def _expand(state: State, node: Any, parts: list[str], path: str) -> None:
    if not parts or not isinstance(node, dict):
        return
    if node.get("object") == "list" and parts[0] == "data":
        for item in node["data"]:
            _expand(state, item, parts[1:], path)
        return
    key = parts[0]
    if key not in node:
        if node.get("object") == "checkout.session" and key == "line_items":
            session = state.get("checkout.session", node["id"])
            items = list(reversed(checkout.line_items(state, session)))
            node[key] = list_envelope(items, f"/v1/checkout/sessions/{node['id']}/line_items")
        else:
            raise _not_expandable(path)
    value = node[key]
    if isinstance(value, str):
        target = state.find(value)
        if target is None:
            raise _not_expandable(path)
        value = node[key] = state.render(target)
    if value is None or len(parts) == 1:
        return
    if isinstance(value, list):
        for item in value:
            _expand(state, item, parts[1:], path)
    else:
        _expand(state, value, parts[1:], path)


def expand(state: State, body: JSON, paths: list[str]) -> JSON:
    for path in paths:
        _expand(state, body, path.split("."), path)
    return body


# -- the HTTP entry point ----------------------------------------------------------------------


def _mask(key: str) -> str:
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def authenticate(request: Request, services: Services) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(credentials).decode().partition(":")[0]
        except ValueError:
            key = ""
    if not key:
        raise authentication(
            "You did not provide an API key. Send your secret key in the Authorization "
            "header, as Bearer authentication (Authorization: Bearer sk_test_...)."
        )
    if key.startswith(("sk_live_", "rk_live_")):
        raise authentication(
            f"Invalid API Key provided: {_mask(key)}. The sandbox only accepts test mode "
            "keys (sk_test_...)."
        )
    if not key.startswith(("sk_test_", "rk_test_")):
        raise authentication(f"Invalid API Key provided: {_mask(key)}")
    if services.api_keys and key not in services.api_keys:
        raise authentication(f"Invalid API Key provided: {_mask(key)}")
    return key


def _log_url(state: State, request_id: str) -> str:
    """An error's `request_log_url` (kept in a replayed answer, as Stripe does)."""
    return f"{state.public_url}/logs/{request_id}?t={state.now()}"


def check_version(version: str) -> None:
    """Refuse an API version of another release than the one the sandbox models."""
    if version.rpartition(".")[2] != API_RELEASE:
        raise invalid(
            f"Invalid Stripe API version: {version}. The sandbox answers with the shapes of "
            f"Stripe's '{API_RELEASE}' release ({API_VERSION}); use a version of that release, "
            "or none to use the SDK's.",
        )


def _respond(
    status: int,
    body: JSON,
    *,
    request_id: str,
    version: str,
    extra: dict[str, str] | None = None,
) -> Response:
    headers = {"Request-Id": request_id, "Stripe-Version": version, **(extra or {})}
    return Response(
        json.dumps(body, indent=2),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def _pairs(request: Request) -> list[tuple[str, str]]:
    if request.method == "POST":
        raw = (await request.body()).decode("utf-8", errors="replace")
        content_type = request.headers.get("content-type", "")
        if raw and "json" in content_type:
            raise invalid(
                "Invalid request: the Stripe API takes form-encoded parameters "
                "(application/x-www-form-urlencoded), not JSON."
            )
        return parse_qsl(raw, keep_blank_values=True)
    return parse_qsl(request.url.query, keep_blank_values=True)


async def handle(request: Request, services: Services) -> Response:
    """Serve one `/v1` call."""
    state = services.state
    request_id = new_id("req", 14)
    version = request.headers.get("stripe-version") or API_VERSION
    path = "/v1/" + request.path_params.get("path", "")
    method = request.method.upper()

    def reply(status: int, body: JSON, extra: dict[str, str] | None = None) -> Response:
        if status >= 400 and "request_log_url" not in body.get("error", {}):
            body = {"error": {**body["error"], "request_log_url": _log_url(state, request_id)}}
        return _respond(status, body, request_id=request_id, version=version, extra=extra)

    delay = services.faults.latency_for(path)
    failure = services.faults.failure_for(path)
    if failure is not None:
        if delay:
            await asyncio.sleep(delay)
        return reply(failure, api_error(failure).body(), {"Stripe-Should-Retry": "true"})
    try:
        api_key = authenticate(request, services)
        check_version(version)
        pairs = await _pairs(request)
        found = match(method, path)
        if found is None:
            raise SandboxError(
                f"Unrecognized request URL ({method}: {path}). Check the path against the "
                "Stripe API reference; the sandbox serves the subset the product uses.",
                status=404,
            )
        endpoint, args = found
        raw_params = parse_form(pairs)
    except SandboxError as error:
        return reply(error.status, error.body())

    key = request.headers.get("idempotency-key") if method == "POST" else None
    extra: dict[str, str] = {}
    if key:
        extra["Idempotency-Key"] = key
        try:
            stored = services.idempotency.lookup(
                api_key, key, method, path, raw_params, state.now()
            )
            if stored is None:
                services.idempotency.begin(api_key, key)
        except SandboxError as error:
            return reply(error.status, error.body(), extra)
        if stored is not None:
            return reply(
                stored.status,
                stored.body,
                {**extra, "Idempotent-Replayed": "true", "Original-Request": stored.request_id},
            )
    try:
        if delay:
            await asyncio.sleep(delay)
        status, body, executed = _execute(services, endpoint, args, raw_params, request_id, key)
    finally:
        if key:
            services.idempotency.end(api_key, key)
    if key and executed and status < 500:
        services.idempotency.store(
            api_key,
            key,
            StoredResponse(method, path, raw_params, status, body, request_id, state.now()),
        )
    return reply(status, body, extra)


def _execute(
    services: Services,
    endpoint: Endpoint,
    args: dict[str, str],
    raw_params: JSON,
    request_id: str,
    key: str | None,
) -> tuple[int, JSON, bool]:
    """Validate the parameters and run the operation: the status and body to answer, and
    whether the operation ran (invalid parameters stop it before)."""
    state = services.state
    try:
        params = validate(raw_params, endpoint.schema)
    except SandboxError as error:
        return error.status, error.body(), False
    timers.run_due(state)
    expansions = params.pop("expand", None) or []
    try:
        with state.requesting(request_id, key):
            body = endpoint.handler(Call(services, params, args))
            return 200, expand(state, body, expansions), True
    except SandboxError as error:
        body = error.body()
        body["error"]["request_log_url"] = _log_url(state, request_id)
        return error.status, body, True
