"""The sandbox mounted under a prefix inside another Starlette app, as the product does."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from graphql_payments.gateway.http import stripe_client
from graphql_payments.sandbox import Sandbox
from tests.sandbox.helpers import line_item

pytestmark = pytest.mark.anyio

PREFIX = "http://product.test/_sandbox"


async def test_api_and_hosted_pages_work_under_a_prefix() -> None:
    # given
    sandbox = Sandbox(public_url=PREFIX)
    product = Starlette(routes=[Mount("/_sandbox", app=sandbox.app)])
    transport = httpx.ASGITransport(app=product)
    client: Any = stripe_client("sk_test_mounted", api_base=PREFIX, transport=transport)
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "payment",
            "line_items": [line_item()],
            "success_url": "http://product.test/thanks",
        }
    )

    # when
    async with httpx.AsyncClient(transport=transport) as browser:
        page = await browser.get(session.url)
        paid = await browser.post(
            f"{PREFIX}/checkout/sessions/{session.id}/pay", data={"card": "pm_card_visa"}
        )

    # then
    assert session.url == f"{PREFIX}/checkout/{session.id}"
    assert page.status_code == 200
    assert f'action="{PREFIX}/checkout/sessions/{session.id}/pay"' in page.text
    assert paid.status_code == 303
    assert paid.headers["location"] == "http://product.test/thanks"
    assert (await client.v1.checkout.sessions.retrieve_async(session.id)).status == "complete"
