"""`POST /webhooks/stripe`: verify, store, answer, then process."""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse

from graphql_payments.errors import WebhookSignatureInvalid
from graphql_payments.webhooks.service import WebhookInbox

log = logging.getLogger(__name__)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


async def stripe_webhook(request: Request) -> JSONResponse:
    inbox: WebhookInbox = request.app.state.inbox
    body = await _read_limited(request, inbox.settings.webhook_max_body)
    if body is None:
        return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        event_id, stored, event = await inbox.receive(body, request.headers.get("stripe-signature"))
    except WebhookSignatureInvalid as exc:
        log.warning("rejected webhook: %s", exc)
        return JSONResponse({"error": str(exc)}, status_code=400)
    task = BackgroundTask(inbox.process_received, event) if event is not None else None
    return JSONResponse(
        {"received": True, "id": event_id, "duplicate": not stored}, background=task
    )
