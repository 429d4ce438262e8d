"""A new user's first minutes, in a real browser: the demo shop, the sandbox's hosted pages,
the pages Stripe returns customers to, and GraphiQL, all with no network beyond the server."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.escrow.flows import AUTHORIZE
from tests.helpers import as_user

pytestmark = pytest.mark.slow

Shot = Callable[[str], Path]
ROOT_FIELDS = "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }"


def sign_in(page: Page, name: str) -> None:
    page.goto("/demo")
    page.fill("#name", name)
    page.click("#sign-in button[type=submit]")
    expect(page.locator("#user")).to_have_text(f"demo-{name}")


def pay(page: Page, card: str) -> None:
    page.select_option("#card", card)
    page.click("form[action$='/pay'] button")


def test_the_demo_buys_credits_through_the_hosted_page(page: Page, screenshot: Shot) -> None:
    # given: a made-up user in the demo shop
    sign_in(page, "alice")
    expect(page.locator("#packages button")).to_have_count(2)
    expect(page.locator("#balance")).to_have_text("0")
    # saved cards and autopay show exactly when the server's schema has them
    schema = page.request.post(
        "/graphql", data={"query": "{ __schema { queryType { fields { name } } } }"}
    )
    queries = {f["name"] for f in schema.json()["data"]["__schema"]["queryType"]["fields"]}
    for section, field in (("#cards-section", "paymentMethods"), ("#autopay-section", "autopay")):
        if field in queries:
            expect(page.locator(section)).to_be_visible()
        else:
            expect(page.locator(section)).to_be_hidden()
    screenshot("demo")
    # when: they buy the Basic package and pay with a card that succeeds
    page.click("button[data-package=basic]")
    expect(page.locator("h1")).to_have_text("Pay")
    screenshot("checkout")
    pay(page, "4242424242424242")
    # then: the success page shows the payment, final
    expect(page).to_have_url(re.compile(r"/pay/success\?session_id=cs_"))
    expect(page.locator("#status")).to_have_text("SUCCEEDED")
    expect(page.locator("#amount")).to_have_text("10.00 USD")
    expect(page.locator("#credits")).to_have_text("100")
    assert "demo-alice" not in page.content()
    screenshot("success")
    # and the shop shows the balance and the history
    page.click("text=Back to the shop")
    expect(page.locator("#balance")).to_have_text("100")
    expect(page.locator("#history tr")).to_have_count(1)
    expect(page.locator("#history tr td").nth(3)).to_have_text("SUCCEEDED")
    screenshot("demo-after")


def test_a_declined_card_shows_the_decline_then_another_card_pays(
    page: Page, screenshot: Shot
) -> None:
    # given
    sign_in(page, "bob")
    page.click("button[data-package=standard]")
    # when: the first card is declined
    pay(page, "4000000000000002")
    # then: the hosted page says so and stays open
    expect(page.locator(".error")).to_contain_text("declined")
    screenshot("declined")
    # when: another card
    pay(page, "4242424242424242")
    # then
    expect(page.locator("#status")).to_have_text("SUCCEEDED")
    expect(page.locator("#credits")).to_have_text("500")
    screenshot("success")


def test_cancel_lands_on_the_cancel_page_which_offers_to_try_again(
    page: Page, screenshot: Shot
) -> None:
    # given
    sign_in(page, "carol")
    page.click("button[data-package=basic]")
    # when
    page.click("text=Cancel and go back")
    # then
    expect(page).to_have_url(re.compile(r"/pay/cancel\?session_id=cs_"))
    expect(page.locator("h1")).to_have_text("Payment canceled")
    expect(page.locator("#message")).to_contain_text("nothing was charged")
    screenshot("cancel")
    # when: they try again
    page.click("text=Try again")
    pay(page, "4242424242424242")
    # then
    expect(page.locator("#status")).to_have_text("SUCCEEDED")


def test_the_demo_shows_a_refund_in_the_history(page: Page, screenshot: Shot) -> None:
    # given: a paid purchase
    sign_in(page, "dave")
    page.click("button[data-package=basic]")
    pay(page, "4242424242424242")
    expect(page.locator("#status")).to_have_text("SUCCEEDED")
    page.click("text=Back to the shop")
    expect(page.locator("#balance")).to_have_text("100")
    # when: the shop refunds it
    page.click("#history button:text('Refund')")
    # then
    expect(page.locator("#history tr td").nth(3)).to_have_text("REFUNDED")
    expect(page.locator("#history tr td").nth(4)).to_contain_text("10.00 USD")
    expect(page.locator("#balance")).to_have_text("0")
    screenshot("refunded")


def test_3d_secure_on_an_escrow_returns_to_the_return_page(
    page: Page, api: httpx.Client, screenshot: Shot
) -> None:
    # given: an escrow whose card asks for 3-D Secure, with no returnUrl (the default page)
    answer = api.post(
        "/graphql",
        headers=as_user("erin"),
        json={
            "query": AUTHORIZE,
            "variables": {
                "input": {
                    "orderId": "o-3ds",
                    "amount": 2500,
                    "currency": "usd",
                    "paymentMethodId": "pm_card_threeDSecure2Required",
                    "idempotencyKey": "o-3ds-hold",
                }
            },
        },
    ).json()["data"]["authorize"]
    assert answer["payment"]["status"] == "REQUIRES_ACTION", answer
    # when: the customer completes the challenge
    page.goto(answer["nextActionUrl"])
    screenshot("challenge")
    page.click("text=Complete authentication")
    # then: back on the return page, with the hold in place
    expect(page).to_have_url(re.compile(r"/pay/return\?payment_intent=pi_"))
    expect(page.locator("#status")).to_have_text("AUTHORIZED")
    expect(page.locator("#amount")).to_have_text("25.00 USD")
    screenshot("returned")


def test_graphiql_loads_and_runs_a_query_with_no_network(page: Page, screenshot: Shot) -> None:
    # given: the page fixture aborts every request that leaves the server
    # when
    page.goto("/graphql")
    # then: GraphiQL's editor renders from the app's own assets and can run a query
    expect(page.get_by_test_id("graphiql-container")).to_be_visible()
    page.locator(".graphiql-query-editor .CodeMirror").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("{ creditPackages { id } }")
    page.click(".graphiql-execute-button")
    expect(page.locator(".graphiql-response")).to_contain_text('"basic"')
    screenshot("graphiql")


def test_the_landing_page_links_everything(page: Page, screenshot: Shot) -> None:
    page.goto("/")
    expect(page.locator("h1")).to_have_text("graphql-payments")
    for href in ("/graphql", "/health", "/_sandbox/", "/demo", "/readme#graphql-api"):
        expect(page.locator(f"a[href='{href}']")).to_have_count(1)
    screenshot("landing")
    page.click("a[href='/readme#graphql-api']")
    expect(page.locator("#graphql-api")).to_be_visible()


def test_the_demo_saves_a_card_and_sets_autopay_when_the_server_has_them(
    page: Page, api: httpx.Client, screenshot: Shot
) -> None:
    # given: a server whose schema has saved cards and autopay
    fields = api.post("/graphql", json={"query": ROOT_FIELDS}).json()["data"]["__schema"]
    names = {f["name"] for f in fields["queryType"]["fields"] + fields["mutationType"]["fields"]}
    if not {"paymentMethods", "addPaymentMethod", "autopay"} <= names:
        pytest.skip("this server's schema has no saved cards and autopay: the demo hides them")
    sign_in(page, "frank")
    # when: they save a card on the hosted setup page
    page.click("#add-card")
    page.wait_for_url(re.compile(r"/_sandbox/checkout/"))
    screenshot("setup")
    page.click("form[action$='/pay'] button")
    # then: back in the shop, the card is listed
    page.wait_for_url(re.compile(r"/demo"))
    expect(page.locator("#cards tr")).to_have_count(1)
    expect(page.locator("#cards tr td").first).to_contain_text("4242")
    # when: they turn on a monthly autopay
    page.fill("#autopay-day", "15")
    page.click("#autopay button[type=submit]")
    # then
    expect(page.locator("#autopay-state")).to_contain_text("ACTIVE")
    expect(page.locator("#autopay-state")).to_contain_text("day 15")
    screenshot("autopay")
    page.click("#autopay-off")
    expect(page.locator("#autopay-state")).to_have_text("Autopay is off.")
