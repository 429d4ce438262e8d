"""The credit ledger: one entry per (payment, reason), and `ledger verify`."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from graphql_payments.cli import main
from graphql_payments.db import Database
from graphql_payments.ledger import repository as ledger
from graphql_payments.ledger.models import CreditBalance, EntryReason
from graphql_payments.payments import repository
from graphql_payments.payments.models import Payment, PaymentKind, PaymentStatus
from graphql_payments.services import Services


def purchase(payment_id: str, status: PaymentStatus) -> Payment:
    return Payment(
        id=payment_id,
        user_id="alice",
        kind=PaymentKind.CREDIT_PURCHASE,
        status=status,
        amount=1000,
        currency="USD",
        credits=100,
    )


async def test_an_entry_is_written_once_per_payment_and_reason(services: Services) -> None:
    # given
    async with services.db.transaction() as session:
        await repository.add(session, purchase("pay_1", PaymentStatus.SUCCEEDED))
    # when
    results = []
    for _ in range(3):
        async with services.db.transaction() as session:
            results.append(
                await ledger.add_entry(
                    session,
                    user_id="alice",
                    delta=100,
                    reason=EntryReason.PURCHASE,
                    payment_id="pay_1",
                )
            )
    # then
    assert results == [True, False, False]
    assert await services.credits.balance("alice") == 100
    assert await services.credits.verify_ledger() == []


async def test_verify_reports_uncredited_and_unpaid_credits(services: Services) -> None:
    # given: one paid purchase never credited, one unpaid purchase credited
    async with services.db.transaction() as session:
        await repository.add(session, purchase("pay_paid", PaymentStatus.SUCCEEDED))
        await repository.add(session, purchase("pay_unpaid", PaymentStatus.PENDING))
        await ledger.add_entry(
            session,
            user_id="alice",
            delta=100,
            reason=EntryReason.PURCHASE,
            payment_id="pay_unpaid",
        )
    # when
    problems = await services.credits.verify_ledger()
    # then
    assert len(problems) == 2
    assert any("pay_paid" in p and "credited 0" in p for p in problems)
    assert any("pay_unpaid" in p and "never paid" in p for p in problems)


async def test_the_balance_row_follows_every_entry_and_verify_checks_it(
    services: Services,
) -> None:
    # given: entries for two users, one of them repeated (written once)
    async with services.db.transaction() as session:
        await repository.add(session, purchase("pay_1", PaymentStatus.SUCCEEDED))
        for user_id, delta, reference in (
            ("alice", 100, ""),
            ("alice", 100, ""),
            ("alice", -30, "use-1"),
            ("bob", 7, "gift"),
        ):
            await ledger.add_entry(
                session,
                user_id=user_id,
                delta=delta,
                reason=EntryReason.PURCHASE if not reference else EntryReason.ADJUSTMENT,
                payment_id="pay_1" if not reference else None,
                reference=reference,
            )
    # then: each balance is the sum of the entries written
    assert await services.credits.balance("alice") == 70
    assert await services.credits.balance("bob") == 7
    assert await services.credits.balance("nobody") == 0
    assert await services.credits.verify_ledger() == []
    # when: a balance row drifts from its entries
    async with services.db.transaction() as session:
        await session.execute(
            update(CreditBalance).where(CreditBalance.user_id == "bob").values(balance=8)
        )
    # then: verify says so
    problems = await services.credits.verify_ledger()
    assert problems == ["user bob: the balance row holds 8 credits, the entries sum to 7"]


async def _break(url: str) -> None:
    db = Database(url)
    try:
        async with db.transaction() as session:
            await repository.add(session, purchase("pay_broken", PaymentStatus.SUCCEEDED))
    finally:
        await db.dispose()


def test_the_cli_exits_non_zero_when_an_invariant_fails(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given
    monkeypatch.setenv("PAYMENTS_DATABASE_URL", database_url)
    # when / then: an empty ledger is sound
    assert main(["ledger", "verify"]) == 0
    assert "ledger ok" in capsys.readouterr().out
    # when / then: a paid purchase without credits is reported
    asyncio.run(_break(database_url))
    assert main(["ledger", "verify"]) == 1
    assert "pay_broken" in capsys.readouterr().out
