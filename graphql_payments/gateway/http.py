"""The HTTP clients the Stripe SDK uses.

Over the network (Stripe itself, or a sandbox on another port) the SDK sends its requests with
aiohttp (`StripeAIOHTTPClient`), which costs about a third of httpx's CPU per request: in a
burst of checkouts, a fifth of the server's CPU. `StripeHTTPClient` (httpx) takes a transport
instead, so the same SDK code path reaches the in-process sandbox through
`httpx.ASGITransport`. Both log and count every request alike (`_Observed`).
"""

from __future__ import annotations

import logging
import ssl
import time
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import stripe

from graphql_payments import metrics, turns

log = logging.getLogger("graphql_payments.stripe")


class _Observed:
    """One log line (with the request id) and metrics per HTTP request to Stripe, and the
    request's turn given back while it waits (`turns.waiting`)."""

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """One HTTP request to Stripe: one log line (with the request id) and its metrics."""
        path = metrics.endpoint(urlsplit(url).path)
        started = time.perf_counter()
        status = 0
        error: str | None = None
        try:
            async with turns.waiting():
                content, status, response_headers = await super().request_async(  # type: ignore[misc]
                    method, url, headers, post_data
                )
            return content, status, response_headers
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            elapsed = time.perf_counter() - started
            metrics.STRIPE_CALLS.labels(path, method.upper(), str(status)).inc()
            metrics.STRIPE_SECONDS.labels(path).observe(elapsed)
            if status == 0 or status >= 500 or status == 429:
                metrics.STRIPE_ERRORS.labels(path).inc()
            level = logging.WARNING if status == 0 or status >= 500 else logging.INFO
            log.log(
                level,
                "stripe %s %s %s %.1f ms",
                method.upper(),
                path,
                status or error,
                elapsed * 1000,
                extra={
                    "stripe_endpoint": path,
                    "stripe_status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "idempotency_key": headers.get("Idempotency-Key"),
                },
            )


class StripeHTTPClient(_Observed, stripe.HTTPXClient):
    """`stripe.HTTPXClient` with an optional custom transport (the in-process sandbox) and a
    bounded timeout."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(timeout=timeout)
        if transport is not None:
            self._client_async = httpx.AsyncClient(transport=transport)

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> list[Any]:
        # The SDK hands httpx its form-encoded body as `data=`, which httpx deprecates for raw
        # bytes/text; send it as `content=` instead.
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        body = kwargs.pop("data", None)
        if body:
            kwargs["content"] = body
        return [args, kwargs]

    async def aclose(self) -> None:
        await self._client_async.aclose()


class StripeAIOHTTPClient(_Observed, stripe.AIOHTTPClient):
    """`stripe.AIOHTTPClient` with a bounded timeout, Stripe's CA bundle and an optional proxy.

    The session does not trust the environment itself: aiohttp would then read `~/.netrc` on a
    worker thread for every request (a tenth of a checkout's CPU). The proxy the environment
    names is found once instead (`env_proxy`)."""

    def __init__(self, *, timeout: float = 30.0, proxy: str | None = None) -> None:
        super().__init__(timeout=aiohttp.ClientTimeout(total=timeout), proxy=proxy)
        self._own: aiohttp.ClientSession | None = None

    @property
    def _session(self) -> aiohttp.ClientSession:
        # Made on first use, inside the event loop that uses it.
        if self._own is None:
            ssl_context = ssl.create_default_context(cafile=stripe.ca_bundle_path)
            self._own = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ssl_context))
        return self._own

    async def aclose(self) -> None:
        if self._own is not None:
            await self._own.close()


StripeHTTP = StripeHTTPClient | StripeAIOHTTPClient
STRIPE_API = "https://api.stripe.com"


def env_proxy(api_base: str | None) -> str | None:
    """The proxy `HTTPS_PROXY` (or `HTTP_PROXY` for a plain-HTTP base) names for Stripe's
    address, unless `NO_PROXY` covers it; as httpx and curl read them."""
    address = urlsplit(api_base or STRIPE_API)
    if not address.hostname or urllib.request.proxy_bypass(address.hostname):
        return None
    return urllib.request.getproxies().get(address.scheme)


def http_client(
    *,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
    api_base: str | None = None,
) -> StripeHTTP:
    """aiohttp over the network; httpx when a transport (the in-process sandbox) is given."""
    if transport is None:
        return StripeAIOHTTPClient(timeout=timeout, proxy=env_proxy(api_base))
    return StripeHTTPClient(timeout=timeout, transport=transport)


def stripe_client(
    api_key: str,
    *,
    api_base: str | None = None,
    api_version: str | None = None,
    timeout: float = 30.0,
    max_network_retries: int = 0,
    transport: httpx.AsyncBaseTransport | None = None,
    http: StripeHTTP | None = None,
) -> stripe.StripeClient:
    """A `StripeClient` on one of our HTTP clients; `api_base` points it at a sandbox."""
    base_addresses: dict[str, str] = {}
    if api_base is not None:
        base_addresses = {"api": api_base, "connect": api_base, "files": api_base}
    return stripe.StripeClient(
        api_key,
        stripe_version=api_version,
        base_addresses=base_addresses,  # type: ignore[arg-type]
        max_network_retries=max_network_retries,
        http_client=http or http_client(timeout=timeout, transport=transport, api_base=api_base),
    )
