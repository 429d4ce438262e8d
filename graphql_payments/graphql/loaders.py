"""Per-request dataloaders: one short read session per batch, never one query per parent."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader

from graphql_payments.auth import Principal
from graphql_payments.db import Database
from graphql_payments.payments.models import PaymentRecord
from graphql_payments.payments.service import PaymentService
from graphql_payments.refunds import repository as refunds
from graphql_payments.refunds.models import Dispute, Refund

T = TypeVar("T")

# Keys one `paymentStatus` batch reads at once (bound parameters of one statement).
MAX_STATUS_BATCH = 2000


def _grouped(
    db: Database, fetch: Callable[..., Awaitable[Sequence[T]]]
) -> DataLoader[str, list[T]]:
    async def load(payment_ids: list[str]) -> list[list[T]]:
        async with db.reading() as session:
            rows = await fetch(session, payment_ids)
        by_payment: dict[str, list[T]] = defaultdict(list)
        for row in rows:
            by_payment[row.payment_id].append(row)  # type: ignore[attr-defined]
        return [by_payment.get(payment_id, []) for payment_id in payment_ids]

    return DataLoader(load_fn=load)


class Loaders:
    """Each loader is made when a field first asks for it."""

    def __init__(self, db: Database, payments: PaymentService) -> None:
        self._db = db
        self._payments = payments
        self._status: DataLoader[tuple[str, str], PaymentRecord | None] | None = None

    @cached_property
    def refunds(self) -> DataLoader[str, list[Refund]]:
        return _grouped(self._db, refunds.for_payments)

    @cached_property
    def disputes(self) -> DataLoader[str, list[Dispute]]:
        return _grouped(self._db, refunds.disputes_for_payments)

    def payment_status(
        self, viewer: Principal | None
    ) -> DataLoader[tuple[str, str], PaymentRecord | None]:
        """`paymentStatus` by `(lookup, value)` for this request's one viewer: the aliases of a
        remote join (one per row) are read together."""
        if self._status is None:
            payments = self._payments

            async def load(keys: list[tuple[str, str]]) -> list[PaymentRecord | None]:
                return await payments.statuses(viewer, keys)

            self._status = DataLoader(load_fn=load, max_batch_size=MAX_STATUS_BATCH)
        return self._status
