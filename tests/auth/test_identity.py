"""Who is calling: JWTs, trusted callers, roles, and what each may see."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from graphql_payments.config import Settings
from tests.helpers import (
    ME,
    SHARED_SECRET,
    GraphQLClient,
    as_admin,
    as_user,
    checkout,
    error_codes,
    token,
)

PAYMENT = "query($id: ID) { paymentStatus(id: $id) { id userId } }"
HISTORY = "query($u: String) { paymentHistory(userId: $u) { totalCount } }"


async def test_anonymous_callers_may_read_packages_only(gql: GraphQLClient) -> None:
    # when
    packages = await gql("query { creditPackages { id } }")
    me = await gql(ME)
    history = await gql("query { paymentHistory { totalCount } }")
    # then
    assert "errors" not in packages
    assert error_codes(me) == ["UNAUTHENTICATED"]
    assert error_codes(history) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "authorization",
    [
        f"Bearer {token('alice', ttl=-10)}",
        f"Bearer {token('alice', secret='another-secret-of-sufficient-length!!')}",
        "Bearer not.a.jwt",
        "Bearer ",
        "Basic YWxpY2U6cHc=",
    ],
    ids=["expired", "wrong-signature", "malformed", "empty", "wrong-scheme"],
)
async def test_bad_tokens_are_refused(gql: GraphQLClient, authorization: str) -> None:
    body = await gql(ME, headers={"Authorization": authorization})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None


async def test_a_token_accepted_before_is_refused_once_it_expires(gql: GraphQLClient) -> None:
    # given: a token that is valid for a few more seconds, accepted (and remembered as verified)
    issued = token("alice", ttl=3)
    headers = {"Authorization": f"Bearer {issued}"}
    assert (await gql.data(ME, headers=headers))["me"]["userId"] == "alice"
    # when: it expires
    expires = jwt.decode(issued, options={"verify_signature": False})["exp"]
    await asyncio.sleep(expires - time.time() + 0.1)
    # then
    body = await gql(ME, headers=headers)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_user_id_comes_from_hasura_claims_or_sub(gql: GraphQLClient) -> None:
    # given
    plain = token("carol", hasura=False)
    # when
    hasura = await gql.data(ME, headers=as_user("alice"))
    sub_only = await gql.data(ME, headers={"Authorization": f"Bearer {plain}"})
    # then
    assert hasura["me"]["userId"] == "alice"
    assert sub_only["me"] == {"userId": "carol", "role": "user", "creditsBalance": 0}


async def test_hasura_headers_count_only_with_the_shared_secret(gql: GraphQLClient) -> None:
    # given
    claimed = {"x-hasura-user-id": "mallory", "x-hasura-role": "admin"}
    # when
    without = await gql(ME, headers=claimed)
    wrong = await gql(ME, headers=claimed | {"X-Payments-Secret": "guess"})
    trusted = await gql.data(ME, headers=claimed | {"X-Payments-Secret": SHARED_SECRET})
    with_token = await gql.data(ME, headers=as_user("alice") | claimed)
    # then
    assert error_codes(without) == ["UNAUTHENTICATED"]
    assert error_codes(wrong) == ["UNAUTHENTICATED"]
    assert trusted["me"] == {"userId": "mallory", "role": "admin", "creditsBalance": 0}
    assert with_token["me"]["role"] == "user"


async def test_users_see_only_their_own_payments(gql: GraphQLClient) -> None:
    # given
    alice = await checkout(gql, "alice")
    assert alice["__typename"] == "CheckoutSuccess", alice
    payment_id = alice["payment"]["id"]
    # when
    own = await gql.data(PAYMENT, {"id": payment_id}, headers=as_user("alice"))
    other = await gql.data(PAYMENT, {"id": payment_id}, headers=as_user("bob"))
    other_history = await gql.data(
        "query { paymentHistory { totalCount } }", headers=as_user("bob")
    )
    peek = await gql(HISTORY, {"u": "alice"}, headers=as_user("bob"))
    admin = await gql.data(PAYMENT, {"id": payment_id}, headers=as_admin())
    admin_history = await gql.data(HISTORY, {"u": "alice"}, headers=as_admin())
    # then
    assert own["paymentStatus"]["id"] == payment_id
    assert other["paymentStatus"] is None
    assert other_history["paymentHistory"]["totalCount"] == 0
    assert error_codes(peek) == ["FORBIDDEN"]
    assert admin["paymentStatus"]["userId"] == "alice"
    assert admin_history["paymentHistory"]["totalCount"] == 1


async def test_checkout_needs_a_caller(gql: GraphQLClient) -> None:
    body = await gql(
        'mutation { checkout(input: {packageId: "basic", successUrl: "https://a.example",'
        ' cancelUrl: "https://a.example", idempotencyKey: "k"}) { __typename } }'
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_payment_status_takes_exactly_one_argument(gql: GraphQLClient) -> None:
    none = await gql("query { paymentStatus { id } }", headers=as_user("alice"))
    two = await gql(
        'query { paymentStatus(id: "a", orderId: "b") { id } }', headers=as_user("alice")
    )
    assert error_codes(none) == ["BAD_USER_INPUT"]
    assert error_codes(two) == ["BAD_USER_INPUT"]


def _rsa_pair() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


PRIVATE_KEY, PUBLIC_KEY = _rsa_pair()


class TestRS256:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url, jwt_public_key=PUBLIC_KEY)

    async def test_rs256_tokens_verify_with_the_public_key(self, gql: GraphQLClient) -> None:
        # given
        claims = {"sub": "dave", "exp": int(time.time()) + 60}
        good = jwt.encode(claims, PRIVATE_KEY, algorithm="RS256")
        forged = jwt.encode(claims, _rsa_pair()[0], algorithm="RS256")
        hs = jwt.encode(claims, "a-secret-that-is-long-enough-for-hs256!", algorithm="HS256")
        # when
        ok = await gql.data(ME, headers={"Authorization": f"Bearer {good}"})
        bad = await gql(ME, headers={"Authorization": f"Bearer {forged}"})
        wrong_alg = await gql(ME, headers={"Authorization": f"Bearer {hs}"})
        # then
        assert ok["me"]["userId"] == "dave"
        assert error_codes(bad) == ["UNAUTHENTICATED"]
        assert error_codes(wrong_alg) == ["UNAUTHENTICATED"]


class TestProjectRoles:
    """A Hasura project's own role names map to ours through the configured role lists."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={"admin_roles": ["admin", "manager"], "user_roles": ["user", "customer"]}
        )

    async def test_configured_roles_are_mapped_and_others_refused(self, gql: GraphQLClient) -> None:
        # given
        trusted = {"X-Payments-Secret": SHARED_SECRET}
        # when
        customer = await gql.data(
            ME, headers=trusted | {"x-hasura-role": "Customer", "x-hasura-user-id": "cleo"}
        )
        manager = await gql.data(
            HISTORY, {"u": "cleo"}, headers=trusted | {"x-hasura-role": "manager"}
        )
        by_token = await gql.data(
            ME, headers={"Authorization": f"Bearer {token('mia', role='manager')}"}
        )
        other = await gql(
            ME, headers=trusted | {"x-hasura-role": "intern", "x-hasura-user-id": "i"}
        )
        # then
        assert customer["me"] == {"userId": "cleo", "role": "user", "creditsBalance": 0}
        assert manager["paymentHistory"]["totalCount"] == 0
        assert by_token["me"]["role"] == "admin"
        assert error_codes(other) == ["FORBIDDEN"]
