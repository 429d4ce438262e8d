"""The control API: the sandbox's Python controls over HTTP, for a sandbox in another process.

JSON in, JSON out. Only loopback clients (not behind a proxy) may use it, or callers sending the
sandbox's control key as `Authorization: Bearer ...`; others get 403. Webhook signing secrets
are never listed: only the endpoint created by a request shows its (new) secret, once, as
Stripe does. Errors answer Stripe's error envelope with status 400, 403 or 404.

====== ======================================= ==============================================
method path                                    body / answer
====== ======================================= ==============================================
GET    /control/state                          clock, object counts, webhook queue
GET    /control/clock                          {"now"}
POST   /control/clock/advance                  {"seconds"} -> {"now"}
GET    /control/events                         ?type= -> {"data": [event, ...]} oldest first
GET    /control/objects/{kind}                 {"data": [...]} e.g. kind=payment_intent
GET    /control/webhooks/endpoints             {"data": [endpoint, ...]}
POST   /control/webhooks/endpoints             {"url", "secret"?, "enabled_events"?}
DELETE /control/webhooks/endpoints/{id}
POST   /control/webhooks/hold
POST   /control/webhooks/release               {"order": "fifo"|"reverse"}
POST   /control/webhooks/duplicate             {"times"}
POST   /control/webhooks/delay                 {"seconds"}
POST   /control/webhooks/fail_next             {"count", "status"?, "endpoint"?}
POST   /control/webhooks/timeout_next          {"count", "endpoint"?}
POST   /control/webhooks/latency               {"seconds", "endpoint"?}
POST   /control/webhooks/clear
GET    /control/webhooks/attempts              {"data": [attempt, ...]}
POST   /control/webhooks/wait_idle             {"timeout"?}
POST   /control/faults/fail_api                {"status"?, "count"?, "path_prefix"?}
POST   /control/faults/api_latency             {"seconds", "count"?}
POST   /control/faults/clear
POST   /control/checkout/sessions/{id}/pay     {"card"?, "email"?} -> outcome
POST   /control/checkout/sessions/{id}/cancel  -> {"redirect_url"}
POST   /control/authenticate/{intent_id}       {"succeed"?: true} -> intent
POST   /control/disputes                       {"charge", "amount"?, "reason"?} -> dispute
POST   /control/disputes/{id}/close            {"won"} -> dispute
POST   /control/refunds/{id}/fail              {"reason"?} -> refund
POST   /control/accounts/{id}/onboard          -> account (onboarding completed)
POST   /control/reset
====== ======================================= ==============================================
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graphql_payments.sandbox.errors import JSON, SandboxError

if TYPE_CHECKING:
    from graphql_payments.sandbox.sandbox import Sandbox

Action = Callable[[Request, JSON], Awaitable[Any]]


def _bad_request(message: str, status: int = 400) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error"}}, status_code=status
    )


def forbidden() -> Response:
    return _bad_request(
        "The sandbox's control API answers only loopback clients or the control key.", 403
    )


def _wrap(sandbox: Sandbox, action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if not sandbox.allows_control(request):
            return forbidden()
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return _bad_request("The control API takes a JSON body.")
        if not isinstance(body, dict):
            return _bad_request("The control API takes a JSON object.")
        try:
            result = await action(request, body)
        except SandboxError as error:
            return JSONResponse(error.body(), status_code=error.status)
        except (KeyError, ValueError, TypeError) as error:
            return _bad_request(f"Invalid control request: {error}")
        if result is None:
            result = {"ok": True}
        return JSONResponse(result)

    return endpoint


def routes(sandbox: Sandbox) -> list[Route]:
    webhooks = sandbox.webhooks
    faults = sandbox.faults

    async def state(request: Request, body: JSON) -> JSON:
        return {
            "now": sandbox.clock.now(),
            "objects": {kind: len(objs) for kind, objs in sandbox.state.objects.items()},
            "events": len(sandbox.state.events),
            "webhooks": {
                "endpoints": len(webhooks.endpoints),
                "holding": webhooks.holding,
                "held": webhooks.held,
                "attempts": len(webhooks.attempts),
            },
        }

    async def clock(request: Request, body: JSON) -> JSON:
        return {"now": sandbox.clock.now()}

    async def advance(request: Request, body: JSON) -> JSON:
        return {"now": await sandbox.advance_clock(int(body["seconds"]))}

    async def events(request: Request, body: JSON) -> JSON:
        kind = request.query_params.get("type")
        found = [e for e in sandbox.events if kind is None or e["type"] == kind]
        return {"data": found}

    async def objects(request: Request, body: JSON) -> JSON:
        return {"data": sandbox.objects(request.path_params["kind"])}

    async def endpoints(request: Request, body: JSON) -> JSON:
        return {"data": [e.to_stripe() for e in webhooks.endpoints.values()]}

    async def add_endpoint(request: Request, body: JSON) -> JSON:
        endpoint = sandbox.add_webhook_endpoint(
            body["url"],
            secret=body.get("secret"),
            enabled_events=tuple(body.get("enabled_events") or ("*",)),
        )
        return endpoint.to_stripe(with_secret=True)

    async def remove_endpoint(request: Request, body: JSON) -> None:
        sandbox.remove_webhook_endpoint(request.path_params["endpoint_id"])

    async def hold(request: Request, body: JSON) -> None:
        webhooks.hold()

    async def release(request: Request, body: JSON) -> None:
        webhooks.release(body.get("order", "fifo"))

    async def duplicate(request: Request, body: JSON) -> None:
        webhooks.duplicate(int(body.get("times", 2)))

    async def delay(request: Request, body: JSON) -> None:
        webhooks.delay(float(body["seconds"]))

    async def fail_next(request: Request, body: JSON) -> None:
        webhooks.fail_next(
            int(body["count"]), int(body.get("status", 500)), endpoint=body.get("endpoint")
        )

    async def timeout_next(request: Request, body: JSON) -> None:
        webhooks.timeout_next(int(body["count"]), endpoint=body.get("endpoint"))

    async def latency(request: Request, body: JSON) -> None:
        webhooks.latency(float(body["seconds"]), endpoint=body.get("endpoint"))

    async def clear_webhooks(request: Request, body: JSON) -> None:
        webhooks.clear()

    async def attempts(request: Request, body: JSON) -> JSON:
        return {"data": [attempt.to_dict() for attempt in webhooks.attempts]}

    async def wait_idle(request: Request, body: JSON) -> None:
        await webhooks.wait_idle(float(body.get("timeout", 10.0)))

    async def fail_api(request: Request, body: JSON) -> None:
        count = body.get("count")
        faults.fail_api(
            int(body.get("status", 500)),
            None if count is None else int(count),
            body.get("path_prefix"),
        )

    async def api_latency(request: Request, body: JSON) -> None:
        count = body.get("count")
        faults.api_latency(float(body["seconds"]), None if count is None else int(count))

    async def clear_faults(request: Request, body: JSON) -> None:
        faults.clear()

    async def pay(request: Request, body: JSON) -> JSON:
        outcome = await sandbox.pay_checkout_session(
            request.path_params["session_id"],
            body.get("card", "4242424242424242"),
            email=body.get("email"),
        )
        return dataclasses.asdict(outcome)

    async def cancel(request: Request, body: JSON) -> JSON:
        url = await sandbox.cancel_checkout_session(request.path_params["session_id"])
        return {"redirect_url": url}

    async def authenticate(request: Request, body: JSON) -> JSON:
        return await sandbox.complete_authentication(
            request.path_params["intent_id"], succeed=bool(body.get("succeed", True))
        )

    async def dispute(request: Request, body: JSON) -> JSON:
        amount = body.get("amount")
        return await sandbox.create_dispute(
            body["charge"],
            amount=None if amount is None else int(amount),
            reason=body.get("reason", "fraudulent"),
        )

    async def close_dispute(request: Request, body: JSON) -> JSON:
        return await sandbox.close_dispute(request.path_params["dispute_id"], won=bool(body["won"]))

    async def fail_refund(request: Request, body: JSON) -> JSON:
        return await sandbox.fail_refund(
            request.path_params["refund_id"], body.get("reason", "expired_or_canceled_card")
        )

    async def onboard(request: Request, body: JSON) -> JSON:
        return await sandbox.complete_onboarding(request.path_params["account_id"])

    async def reset(request: Request, body: JSON) -> None:
        sandbox.reset()

    table: list[tuple[str, str, Action]] = [
        ("GET", "/state", state),
        ("GET", "/clock", clock),
        ("POST", "/clock/advance", advance),
        ("GET", "/events", events),
        ("GET", "/objects/{kind}", objects),
        ("GET", "/webhooks/endpoints", endpoints),
        ("POST", "/webhooks/endpoints", add_endpoint),
        ("DELETE", "/webhooks/endpoints/{endpoint_id}", remove_endpoint),
        ("POST", "/webhooks/hold", hold),
        ("POST", "/webhooks/release", release),
        ("POST", "/webhooks/duplicate", duplicate),
        ("POST", "/webhooks/delay", delay),
        ("POST", "/webhooks/fail_next", fail_next),
        ("POST", "/webhooks/timeout_next", timeout_next),
        ("POST", "/webhooks/latency", latency),
        ("POST", "/webhooks/clear", clear_webhooks),
        ("GET", "/webhooks/attempts", attempts),
        ("POST", "/webhooks/wait_idle", wait_idle),
        ("POST", "/faults/fail_api", fail_api),
        ("POST", "/faults/api_latency", api_latency),
        ("POST", "/faults/clear", clear_faults),
        ("POST", "/checkout/sessions/{session_id}/pay", pay),
        ("POST", "/checkout/sessions/{session_id}/cancel", cancel),
        ("POST", "/authenticate/{intent_id}", authenticate),
        ("POST", "/disputes", dispute),
        ("POST", "/disputes/{dispute_id}/close", close_dispute),
        ("POST", "/refunds/{refund_id}/fail", fail_refund),
        ("POST", "/accounts/{account_id}/onboard", onboard),
        ("POST", "/reset", reset),
    ]
    return [
        Route("/control" + path, _wrap(sandbox, action), methods=[method])
        for method, path, action in table
    ]
