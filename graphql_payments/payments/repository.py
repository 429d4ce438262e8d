"""SQL for payments: lookups, locked reads for writers, and the keyset history."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Select,
    and_,
    bindparam,
    case,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from graphql_payments import validation
from graphql_payments.db import Reader, execute_core, insert_for, new_row, utcnow
from graphql_payments.errors import PaymentNotFound
from graphql_payments.events.catalogue import EventType
from graphql_payments.events.outbox import record
from graphql_payments.events.recorder import payment_events, payment_fields
from graphql_payments.payments.models import (
    BY_CHECKOUT_SESSION,
    BY_ID,
    BY_ORDER,
    SHOWN_COLUMNS,
    FailureSource,
    Payment,
    PaymentFailure,
    PaymentKind,
    PaymentRecord,
    PaymentStatus,
)

# The columns a shown payment needs (`PaymentRecord`), read as plain rows: no ORM session,
# identity map or change tracking on the hot read paths.
_SHOWN = select(*(Payment.__table__.c[name] for name in SHOWN_COLUMNS))

# The columns of a payment in a brief list (what most pages show): a page that needs no more
# reads only these, and converts a quarter of the values.
BRIEF_COLUMNS = frozenset({"id", "user_id", "kind", "status", "amount", "currency", "created_at"})
_BRIEF = select(*(c for c in Payment.__table__.c if c.key in BRIEF_COLUMNS))


@functools.cache
def _by(keys: tuple[str, ...], lock: bool, *, rows: bool = False) -> Select[Any]:
    """The payment whose column `keys[i]` equals the parameter of that name, the first key in
    `keys` that matches winning; with `lock`, row-locked until the transaction ends; with
    `rows`, as a Core row of its columns. Built once per shape: a statement built per call
    costs more than the lookup."""
    conditions = [Payment.__table__.c[key] == bindparam(key) for key in keys]
    query = select(*Payment.__table__.c) if rows else select(Payment)
    query = query.where(or_(*conditions))
    if len(keys) > 1:  # only the row returned is locked
        query = query.order_by(case(*((c, n) for n, c in enumerate(conditions)))).limit(1)
    return query.with_for_update() if lock else query


async def _one(session: AsyncSession, key: str, value: str, *, lock: bool) -> Payment | None:
    result = await session.execute(_by((key,), lock), {key: value})
    return cast(Payment | None, result.scalar_one_or_none())


async def get(session: AsyncSession, payment_id: str, *, lock: bool = False) -> Payment | None:
    return await _one(session, "id", payment_id, lock=lock)


async def find_locked(session: AsyncSession, keys: dict[str, str]) -> Payment | None:
    """The payment one of `keys` (column: value, in order of preference) names, row-locked: one
    statement for all of them."""
    if not keys:
        return None
    result = await session.execute(_by(tuple(keys), True), keys)
    return cast(Payment | None, result.scalars().first())


# `InstanceState.info` key of a payment read by `find_for_change`: its columns as last stored.
_STORED = "payments_stored"


async def find_for_change(session: AsyncSession, keys: dict[str, str]) -> Payment | None:
    """Like `find_locked`, for a change that `save` writes: the row is read with one Core
    statement into a `Payment` outside the session, with no identity map, loading or unit of
    work (together, most of the cost of a webhook's change). A payment the session holds
    already is that object, pending changes and all, as `find_locked` would give it."""
    if not keys:
        return None
    found = (await execute_core(session, _by(tuple(keys), True, rows=True), keys)).first()
    if found is None:
        return None
    stored = dict(found._mapping)
    held = session.identity_map.get(identity_key(Payment, stored["id"]))
    if held is not None:
        return held
    payment = Payment(**stored)
    inspect(payment).info[_STORED] = stored
    return payment


@functools.cache
def _save_statement(names: tuple[str, ...]) -> Any:
    return (
        update(Payment)
        .where(Payment.id == bindparam("payment_id"), Payment.version == bindparam("stored"))
        .values(
            {name: bindparam(f"new_{name}") for name in names} | {"version": Payment.version + 1}
        )
    )


async def save(session: AsyncSession, payment: Payment) -> None:
    """Write the payment's changes: the session's flush for a payment it holds. For one from
    `find_for_change`, one UPDATE of the changed columns, checked against the version read
    (as the ORM checks it; StaleDataError if another writer got there first), after the
    events the change announces (`recorder.payment_events`, as the flush hook does)."""
    stored = inspect(payment).info.get(_STORED)
    if stored is None:
        await session.flush()
        return
    changes = {
        name: value
        for name, value in ((name, getattr(payment, name)) for name in stored)
        if value != stored[name]
    }
    if not changes:
        return
    status, refunded = stored["status"], stored["refunded_amount"]
    for kind, extra in payment_events(
        payment,
        status_before=status if payment.status is not status else None,
        refunded_before=refunded if payment.refunded_amount != refunded else None,
    ):
        fields = {"payment": payment_fields(payment), **extra}
        await record(session, kind, payment_id=payment.id, user_id=payment.user_id, fields=fields)
    changes["updated_at"] = utcnow()
    params = {f"new_{name}": value for name, value in changes.items()}
    params |= {"payment_id": payment.id, "stored": stored["version"]}
    result = await execute_core(session, _save_statement(tuple(sorted(changes))), params)
    if result.rowcount != 1:
        raise StaleDataError(f"payment {payment.id} changed since version {stored['version']}")
    payment.updated_at = changes["updated_at"]
    payment.version = stored["version"] + 1
    stored.update(changes, version=payment.version)


async def lock(session: AsyncSession, payment_id: str) -> Payment:
    """The payment, row-locked until the transaction ends; PaymentNotFound if there is none."""
    payment = await get(session, payment_id, lock=True)
    if payment is None:
        raise PaymentNotFound(f"No payment {validation.quote(payment_id)}.")
    return payment


_ATTACH_CHECKOUT = (
    update(Payment)
    .where(Payment.id == bindparam("payment_id"))
    .values(
        stripe_checkout_session_id=func.coalesce(
            Payment.stripe_checkout_session_id, bindparam("session_id")
        ),
        checkout_url=func.coalesce(Payment.checkout_url, bindparam("url")),
        stripe_customer_id=func.coalesce(Payment.stripe_customer_id, bindparam("customer_id")),
        version=Payment.version + 1,
    )
    .returning(*(Payment.__table__.c[name] for name in SHOWN_COLUMNS))
)


async def attach_checkout(
    session: AsyncSession,
    payment_id: str,
    *,
    session_id: str,
    url: str | None,
    customer_id: str,
) -> PaymentRecord:
    """Link the payment to its Checkout Session and customer, keeping any link it has already
    (a concurrent retry's): one statement, no ORM load or flush. No status moves, so there is
    no event to record."""
    params = {
        "payment_id": payment_id,
        "session_id": session_id,
        "url": url,
        "customer_id": customer_id,
    }
    row = (await execute_core(session, _ATTACH_CHECKOUT, params)).one_or_none()
    if row is None:
        raise PaymentNotFound(f"No payment {validation.quote(payment_id)}.")
    return cast(PaymentRecord, row)


async def get_by_checkout_session(
    session: AsyncSession, checkout_session_id: str, *, lock: bool = False
) -> Payment | None:
    return await _one(session, "stripe_checkout_session_id", checkout_session_id, lock=lock)


async def get_by_payment_intent(
    session: AsyncSession, payment_intent_id: str, *, lock: bool = False
) -> Payment | None:
    return await _one(session, "stripe_payment_intent_id", payment_intent_id, lock=lock)


async def latest_for_order(
    session: AsyncSession, order_id: str, *, lock: bool = False
) -> Payment | None:
    """The order's newest escrow payment (the live one, when there is one)."""
    query = (
        select(Payment)
        .where(Payment.order_id == order_id, Payment.kind == PaymentKind.ESCROW)
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def order_owner(session: AsyncSession, order_id: str) -> str | None:
    """The user who first authorized the order (orders belong to them), if anyone has."""
    query = (
        select(Payment.user_id)
        .where(Payment.order_id == order_id, Payment.kind == PaymentKind.ESCROW)
        .order_by(Payment.created_at, Payment.id)
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


_LOOKUP_COLUMNS = {
    BY_ID: Payment.id,
    BY_CHECKOUT_SESSION: Payment.stripe_checkout_session_id,
    BY_ORDER: Payment.order_id,
}


def _lookup_statement(lookup: str, *, many: bool) -> Select[Any]:
    column = _LOOKUP_COLUMNS[lookup]
    condition = (
        column.in_(bindparam("values", expanding=True)) if many else (column == bindparam("value"))
    )
    query = _SHOWN.where(condition)
    if lookup == BY_ORDER:
        query = query.where(Payment.kind == PaymentKind.ESCROW).order_by(
            Payment.created_at.desc(), Payment.id.desc()
        )
    return query if many else query.limit(1)


# Built once: a statement built per call costs its construction and its cache key each time.
_LOOKUPS = {
    (lookup, many): _lookup_statement(lookup, many=many)
    for lookup in _LOOKUP_COLUMNS
    for many in (False, True)
}


async def find_many(
    connection: Reader, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], PaymentRecord]:
    """The payments for many `(lookup, value)` keys, one statement per kind of lookup; for an
    order, its newest escrow payment (as `latest_for_order`). Keys not found are absent."""
    wanted: dict[str, set[str]] = {}
    for lookup, value in keys:
        wanted.setdefault(lookup, set()).add(value)
    found: dict[tuple[str, str], PaymentRecord] = {}
    for lookup, values in wanted.items():
        key = _LOOKUP_COLUMNS[lookup].key
        params: dict[str, Any]
        if len(values) == 1:
            query, params = _LOOKUPS[lookup, False], {"value": next(iter(values))}
        else:
            query, params = _LOOKUPS[lookup, True], {"values": sorted(values)}
        for row in (await connection.execute(query, params)).all():
            found.setdefault((lookup, row._mapping[key]), cast(PaymentRecord, row))
    return found


async def record_failure(
    session: AsyncSession,
    *,
    payment_id: str,
    source: FailureSource,
    reference: str,
    code: str | None,
    decline_code: str | None,
    message: str | None,
) -> None:
    """Keep one failed attempt; the same attempt reported twice is kept once."""
    await session.execute(
        insert_for(session, PaymentFailure)
        .values(
            payment_id=payment_id,
            source=source,
            reference=reference,
            code=code,
            decline_code=decline_code,
            message=message,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["payment_id", "source", "reference"])
    )


async def has_failure(
    session: AsyncSession, payment_id: str, source: FailureSource, reference: str
) -> bool:
    found = await session.execute(
        select(PaymentFailure.id).where(
            PaymentFailure.payment_id == payment_id,
            PaymentFailure.source == source,
            PaymentFailure.reference == reference,
        )
    )
    return found.first() is not None


async def failures(
    session: AsyncSession,
    *,
    since: dt.datetime | None,
    first: int,
    after: tuple[dt.datetime, int] | None,
) -> tuple[list[tuple[PaymentFailure, Payment]], bool, int]:
    """Failed attempts, newest first (keyset on created_at, id), with their payments."""
    where = []
    if since is not None:
        where.append(PaymentFailure.created_at >= since)
    total = select(func.count(PaymentFailure.id)).where(*where)
    query = select(PaymentFailure, Payment).join(Payment, Payment.id == PaymentFailure.payment_id)
    query = query.where(*where)
    if after is not None:
        created_at, failure_id = after
        query = query.where(
            or_(
                PaymentFailure.created_at < created_at,
                and_(PaymentFailure.created_at == created_at, PaymentFailure.id < failure_id),
            )
        )
    query = query.order_by(PaymentFailure.created_at.desc(), PaymentFailure.id.desc())
    rows = [(f, p) for f, p in (await session.execute(query.limit(first + 1))).all()]
    count = int((await session.execute(total)).scalar_one())
    return rows[:first], len(rows) > first, count


async def read(
    connection: Reader,
    *,
    payment_id: str | None = None,
    checkout_session_id: str | None = None,
    order_id: str | None = None,
) -> PaymentRecord | None:
    """The payment with exactly one of these ids (an order's newest escrow), for showing.

    The statements are built once: building one per call costs more than the read itself.
    """
    for lookup, key in (
        (BY_ID, payment_id),
        (BY_CHECKOUT_SESSION, checkout_session_id),
        (BY_ORDER, order_id),
    ):
        if key is not None:
            row = (await connection.execute(_LOOKUPS[lookup, False], {"value": key})).first()
            return cast(PaymentRecord, row)
    return None


_INSERT = insert(Payment)


async def add(session: AsyncSession, payment: Payment) -> Payment:
    """Insert a new payment and announce it (`payment.created`), in the caller's transaction.

    A Core INSERT of the object's columns: the object stays out of the session, so the
    transaction changes the payment no further through it (a later change loads it anew).
    """
    payment.version = 1
    await execute_core(session, _INSERT, new_row(payment))
    await record(
        session,
        EventType.PAYMENT_CREATED,
        payment_id=payment.id,
        user_id=payment.user_id,
        fields={"payment": payment_fields(payment)},
    )
    return payment


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    user_id: str | None
    statuses: Sequence[PaymentStatus] = ()
    kinds: Sequence[PaymentKind] = ()


def _filtered(query: Select[Any], where: HistoryFilter) -> Select[Any]:
    """`query` narrowed by `where`, with the values as bound parameters (see `_history_params`)."""
    if where.user_id is not None:
        query = query.where(Payment.user_id == bindparam("user_id"))
    if where.statuses:
        query = query.where(Payment.status.in_(bindparam("statuses", expanding=True)))
    if where.kinds:
        query = query.where(Payment.kind.in_(bindparam("kinds", expanding=True)))
    return query


def _history_params(where: HistoryFilter) -> dict[str, Any]:
    return {"user_id": where.user_id, "statuses": list(where.statuses), "kinds": list(where.kinds)}


@functools.cache
def _history_statements(
    has_user: bool, has_statuses: bool, has_kinds: bool, has_after: bool, brief: bool = False
) -> tuple[Select[Any], Select[Any]]:
    """The page and count statements of one shape of filter, built once; a `brief` page reads
    only `BRIEF_COLUMNS`."""
    where = HistoryFilter(
        user_id="" if has_user else None,
        statuses=[PaymentStatus.PENDING] if has_statuses else [],
        kinds=[PaymentKind.ESCROW] if has_kinds else [],
    )
    page = _filtered(_BRIEF if brief else _SHOWN, where)
    if has_after:
        created_at: BindParameter[dt.datetime] = bindparam("after_created_at")
        payment_id: BindParameter[str] = bindparam("after_id")
        page = page.where(
            or_(
                Payment.created_at < created_at,
                and_(Payment.created_at == created_at, Payment.id < payment_id),
            )
        )
    page = page.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(bindparam("limit"))
    return page, _filtered(select(func.count(Payment.id)), where)


def _shape(where: HistoryFilter, after: object = None) -> tuple[bool, bool, bool, bool]:
    return (where.user_id is not None, bool(where.statuses), bool(where.kinds), after is not None)


async def history(
    connection: Reader,
    where: HistoryFilter,
    *,
    first: int,
    after: tuple[dt.datetime, str] | None = None,
    brief: bool = False,
) -> tuple[list[PaymentRecord], bool]:
    """Newest first, keyset on (created_at, id): a page never shifts when rows are inserted.
    A `brief` page's rows have only `BRIEF_COLUMNS`."""
    query, _ = _history_statements(*_shape(where, after), brief)
    params = _history_params(where) | {"limit": first + 1}
    if after is not None:
        params |= {"after_created_at": after[0], "after_id": after[1]}
    rows = cast(list[PaymentRecord], (await connection.execute(query, params)).all())
    return rows[:first], len(rows) > first


async def count(connection: Reader, where: HistoryFilter) -> int:
    _, query = _history_statements(*_shape(where))
    return int((await connection.execute(query, _history_params(where))).scalar_one())


async def count_by_kind_status(session: AsyncSession) -> list[tuple[str, str, int]]:
    query = select(Payment.kind, Payment.status, func.count()).group_by(
        Payment.kind, Payment.status
    )
    return [(k.value, s.value, int(n)) for k, s, n in (await session.execute(query)).all()]
