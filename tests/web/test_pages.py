"""The browser pages over ASGI: what they show, what they hide, and when they exist."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml

from graphql_payments.app import create_app
from graphql_payments.config import Settings
from graphql_payments.sandbox import Sandbox
from graphql_payments.web.pages import CDN, VENDORED
from tests.helpers import CHECKOUT, JWT_SECRET, GraphQLClient, app_http, as_user, checkout

ROOT = Path(__file__).parents[2]


async def test_the_landing_page_links_graphiql_health_sandbox_demo_and_readme(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/")
    assert page.status_code == 200
    for href in (
        "/graphql",
        "/health",
        "/_sandbox/",
        "/demo",
        "/readme#sandbox-mode-and-real-stripe",
    ):
        assert f'href="{href}"' in page.text
    readme = await http.get("/readme")
    assert 'id="sandbox-mode-and-real-stripe"' in readme.text


async def test_graphiql_loads_every_asset_from_the_app_at_its_pinned_version(
    http: httpx.AsyncClient,
) -> None:
    # when
    page = (await http.get("/graphql", headers={"Accept": "text/html"})).text
    # then: no CDN, and each asset Strawberry's page names is served (with its licence)
    assert CDN not in page
    assets = re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', page)
    assert len(assets) == 7
    for asset in assets:
        response = await http.get(asset)
        assert response.status_code == 200, asset
        package = asset.removeprefix(VENDORED).split("/")[0]
        if package == "@graphiql":
            package = "/".join(asset.removeprefix(VENDORED).split("/")[:2])
        licence = resources.files("graphql_payments.web").joinpath(
            f"static/vendor/{package}/LICENSE"
        )
        assert licence.is_file(), package


async def test_the_success_page_shows_amount_credits_and_live_status_and_nothing_else(
    gql: GraphQLClient, http: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    # given: a paid checkout
    result = await checkout(gql, "alice")
    await sandbox.pay_checkout_session(result["sessionId"])
    # when
    page = await http.get("/pay/success", params={"session_id": result["sessionId"]})
    status = await http.get("/pay/status", params={"session_id": result["sessionId"]})
    # then
    assert page.status_code == 200
    assert page.headers["cache-control"] == status.headers["cache-control"] == "no-store"
    assert "SUCCEEDED" in page.text
    assert "10.00 USD" in page.text
    assert ">100<" in page.text
    assert "alice" not in page.text
    assert result["payment"]["id"] not in page.text
    assert status.json() == {
        "status": "SUCCEEDED",
        "final": True,
        "amount": "10.00 USD",
        "credits": 100,
        "message": "Payment received: 100 credits are on your balance.",
    }


async def test_a_pending_payment_page_keeps_asking_until_it_is_final(
    gql: GraphQLClient, http: httpx.AsyncClient
) -> None:
    result = await checkout(gql)
    page = await http.get("/pay/cancel", params={"session_id": result["sessionId"]})
    assert 'data-final="false"' in page.text
    assert "Try again" in page.text
    assert result["checkoutUrl"] in page.text
    status = await http.get("/pay/status", params={"session_id": result["sessionId"]})
    assert status.json()["final"] is False


@pytest.mark.parametrize(
    "query",
    [{"session_id": "cs_test_unknown"}, {"payment_intent": "pi_unknown"}, {}],
)
async def test_an_unknown_payment_is_a_plain_not_found(
    http: httpx.AsyncClient, query: dict[str, str]
) -> None:
    for path in ("/pay/success", "/pay/cancel", "/pay/return"):
        page = await http.get(path, params=query)
        assert page.status_code == 404
        assert "There is no payment here." in page.text
    assert (await http.get("/pay/status", params=query)).status_code == 404


async def test_the_demo_signs_in_made_up_users_and_an_admin_in_sandbox_mode(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    # when
    user = (await http.post("/demo/session", json={"name": "Alice Smith!"})).json()
    admin = (await http.post("/demo/session", json={"name": "shop", "admin": True})).json()
    # then
    assert user["userId"] == "demo-alice-smith"
    claims = jwt.decode(user["token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 24 * 3600
    me = await gql.data(
        "{ me { userId role } }", headers={"Authorization": f"Bearer {user['token']}"}
    )
    assert me["me"] == {"userId": "demo-alice-smith", "role": "user"}
    assert admin["role"] == "admin"
    assert (await http.post("/demo/session", json={"name": "!!"})).status_code == 400
    assert (await http.post("/demo/session", content=b"[1]")).status_code == 400


async def test_with_real_stripe_there_is_no_demo_unless_asked_and_never_an_admin(
    database_url: str,
) -> None:
    def app(**more: Any) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        settings = Settings(
            database_url=database_url,
            stripe_secret_key="sk_test_real",
            stripe_webhook_secret=["whsec_test_secret_of_some_length"],
            jwt_secret=JWT_SECRET,
            **more,
        )
        return app_http(settings)

    async with app() as plain:
        assert (await plain.get("/demo")).status_code == 404
        assert "/_sandbox/" not in (await plain.get("/")).text
    async with app(graphiql=False) as quiet:
        assert 'href="/graphql"' not in (await quiet.get("/")).text
    async with app(demo=True) as demo:
        assert (await demo.get("/demo")).status_code == 200
        refused = await demo.post("/demo/session", json={"name": "x", "admin": True})
        assert refused.status_code == 403


async def test_the_demo_works_without_a_configured_jwt_key(database_url: str) -> None:
    # given: make run's settings, no PAYMENTS_JWT_SECRET
    application = create_app(Settings(database_url=database_url))
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://payments.test") as http:
        # when
        token = (await http.post("/demo/session", json={"name": "zoe"})).json()["token"]
        me = await GraphQLClient(http).data(
            "{ me { userId } }", headers={"Authorization": f"Bearer {token}"}
        )
    # then
    assert me["me"]["userId"] == "demo-zoe"
    services = application.state.services
    await services.sandbox.webhooks.wait_idle(timeout=10)
    await services.aclose()


def test_compose_runs_postgres_a_one_off_migration_and_the_server() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["db"]["healthcheck"]["test"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    server = services["server"]
    assert server["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert server["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/health" in " ".join(server["healthcheck"]["test"])
    assert server["environment"]["PAYMENTS_WORKERS"] == "${PAYMENTS_WORKERS:-2}"
    assert server["environment"]["STRIPE_SECRET_KEY"] is None  # passed on only when set
    url = services["migrate"]["environment"]["PAYMENTS_DATABASE_URL"]
    assert url == server["environment"]["PAYMENTS_DATABASE_URL"]
    assert url.startswith("postgresql+asyncpg://")


def test_compose_config_passes_where_a_compose_client_exists() -> None:
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, check=False)
        if probe.returncode != 0:
            continue
        checked = subprocess.run(
            [*command, "-f", str(ROOT / "compose.yaml"), "config", "-q"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr
        return
    pytest.skip(
        "no docker compose plugin nor docker-compose here: compose.yaml is checked by parsing"
    )


def test_make_run_passes_port_only_when_given() -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")

    def command(*args: str) -> str:
        run = subprocess.run(
            ["make", "--no-print-directory", "-n", "-W", "pyproject.toml", "run", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        line = [line for line in run.stdout.splitlines() if "graphql-payments serve" in line][-1]
        return " ".join(line.split())

    assert (
        command().rstrip().endswith("graphql-payments serve")
    )  # PAYMENTS_PORT and PAYMENTS_HOST then apply
    assert command("PORT=9000").endswith("serve --port 9000")


def test_the_dockerfile_follows_the_environment() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["serve"]' in dockerfile
    assert "PAYMENTS_PORT" in dockerfile.split("HEALTHCHECK", 1)[1]


async def test_checkout_without_urls_returns_to_the_servers_pages_whatever_the_allowed_hosts(
    database_url: str,
) -> None:
    # given: only shop.example is allowed as a caller-given page
    settings = Settings(
        database_url=database_url,
        public_url="https://pay.example",
        jwt_secret=JWT_SECRET,
        checkout_allowed_hosts=["shop.example"],
    )
    application = create_app(settings)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="https://pay.example") as http:
        gql = GraphQLClient(http)
        # when
        result = await gql.data(
            CHECKOUT, {"input": {"packageId": "basic", "idempotencyKey": "k"}}, headers=as_user("u")
        )
        session = result["checkout"]["sessionId"]
        paid = await http.post(
            f"/_sandbox/checkout/sessions/{session}/pay", data={"card": "4242424242424242"}
        )
        canceled_elsewhere = await gql.data(
            CHECKOUT,
            {
                "input": {
                    "packageId": "basic",
                    "idempotencyKey": "k2",
                    "cancelUrl": "https://evil.example/",
                }
            },
            headers=as_user("u"),
        )
    services = application.state.services
    await services.sandbox.webhooks.wait_idle(timeout=10)
    await services.aclose()
    # then
    assert paid.headers["location"] == f"https://pay.example/pay/success?session_id={session}"
    assert canceled_elsewhere["checkout"]["__typename"] == "ValidationError"
