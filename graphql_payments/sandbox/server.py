"""Running the sandbox on its own, over real HTTP, with uvicorn.

`serve(host, port, ...)` blocks until interrupted (the `graphql-payments sandbox` command);
`serve_async` is the same as a coroutine; `running(...)` starts a sandbox server in the
background of the current event loop and yields its base URL, for end-to-end tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn

from graphql_payments.sandbox.sandbox import Sandbox

logger = logging.getLogger("graphql_payments.sandbox")

DEFAULT_PORT = 12111


def _prepare(
    sandbox: Sandbox | None,
    host: str,
    port: int,
    public_url: str | None,
    webhook_url: str | None,
    webhook_secret: str | None,
) -> Sandbox:
    sandbox = sandbox or Sandbox(public_url or f"http://{host}:{port}")
    if public_url:
        sandbox.public_url = public_url
    if webhook_url:
        endpoint = sandbox.add_webhook_endpoint(webhook_url, secret=webhook_secret)
        if webhook_secret is None:
            logger.warning(
                "sandbox webhooks to %s are signed with the generated secret %s",
                webhook_url,
                endpoint.secret,
            )
    return sandbox


async def serve_async(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    public_url: str | None = None,
    sandbox: Sandbox | None = None,
    log_level: str = "info",
) -> None:
    """Serve a sandbox (a new one unless given) at `http://host:port` until cancelled.

    `webhook_url`/`webhook_secret` register a webhook endpoint (the secret is generated and
    logged when omitted). `public_url` defaults to `http://host:port`.
    """
    app_sandbox = _prepare(sandbox, host, port, public_url, webhook_url, webhook_secret)
    config = uvicorn.Config(
        app_sandbox.app, host=host, port=port, log_level=log_level, lifespan="off"
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        await app_sandbox.aclose()


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    public_url: str | None = None,
    log_level: str = "info",
) -> None:
    """Blocking `serve_async`, for the command line."""
    asyncio.run(
        serve_async(
            host,
            port,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            public_url=public_url,
            log_level=log_level,
        )
    )


@contextlib.asynccontextmanager
async def running(
    sandbox: Sandbox | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve `sandbox` over HTTP in the background; yields its base URL.

    With `port=0` a free port is picked and the sandbox's `public_url` set to match.
    """
    sandbox = sandbox or Sandbox()
    config = uvicorn.Config(sandbox.app, host=host, port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the sandbox server stopped while starting")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://{host}:{bound}"
    sandbox.public_url = url
    try:
        yield url
    finally:
        server.should_exit = True
        await task
