"""The sandbox's ASGI application.

Routes, relative to wherever the app is mounted (for example `/_sandbox` inside the product,
or `/` when run alone with `graphql-payments sandbox`):

- `/v1/...`: the Stripe API subset (see `api`);
- `/checkout/...`, `/authenticate/...`, `/receipts/...`: hosted pages (see `pages`);
- `/control/...`: JSON control API (see `control`).

Links the sandbox generates (`checkout.session.url`, `next_action.redirect_to_url.url`,
`receipt_url`, form actions) start with the sandbox's `public_url`, so set that to where a
browser reaches this app.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graphql_payments.sandbox import api, control
from graphql_payments.sandbox.errors import api_error
from graphql_payments.sandbox.pages import Pages

if TYPE_CHECKING:
    from graphql_payments.sandbox.sandbox import Sandbox

logger = logging.getLogger("graphql_payments.sandbox")


def build_app(sandbox: Sandbox) -> Starlette:
    async def stripe_api(request: Request) -> Response:
        try:
            return await api.handle(request, sandbox.services)
        except Exception:
            logger.exception("sandbox failed on %s %s", request.method, request.url.path)
            return JSONResponse(api_error(500).body(), status_code=500)

    routes = [
        Route("/v1/{path:path}", stripe_api, methods=["GET", "POST", "DELETE"]),
        *Pages(sandbox).routes(),
        *control.routes(sandbox),
    ]
    return Starlette(routes=routes)
