"""The allowed status transitions of each payment kind, in one table.

Every writer of `Payment.status` goes through `can_transition`; a transition that is not in the
table (a late, duplicated or reordered event) changes nothing. The README draws each machine.

Credit purchase (Stripe Checkout):

    PENDING ──paid──────────► SUCCEEDED
       │ ├──async failed────► FAILED
       │ └──session expired─► EXPIRED
       └──canceled──────────► CANCELED

A declined card on the hosted page leaves the session open, so the payment stays PENDING with
the failure recorded; the customer may try another card.

Once paid, refunds and disputes move a payment among the "money back" statuses, always derived
from its totals by `settled_status`: PARTIALLY_REFUNDED or REFUNDED by what was returned
(refunds plus lost disputes), DISPUTED while a dispute is open. A refund that fails after it
succeeded moves the payment back to what its totals say; that is the one way back.

Autopay (an off-session charge of a saved card; after a paid charge, as a credit purchase):

    PENDING ──paid────────────────────────────► SUCCEEDED
       │ ├──declined──────────────────────────► FAILED
       │ └──authentication_required──► REQUIRES_ACTION ──customer authenticates──► SUCCEEDED
       └──────────────────────────────────────────┴──superseded by a retry─────► CANCELED

Escrow (manual capture, then a Connect transfer to the runner):

    PENDING ──► REQUIRES_ACTION ──► AUTHORIZED ──release──► RELEASED ──revert──► REVERTED
       │              │                 ├──revert──────────────────────────────► REVERTED
       │              │                 └──hold lapses (7 days)──► EXPIRED
       └──declined────┴──► FAILED

PENDING and REQUIRES_ACTION may also be reverted (the intent is canceled). FAILED, REVERTED and
EXPIRED free the order for a new authorization.
"""

from __future__ import annotations

from graphql_payments.payments.models import PaymentKind, PaymentStatus

S = PaymentStatus

TRANSITIONS: dict[PaymentKind, dict[PaymentStatus, frozenset[PaymentStatus]]] = {
    PaymentKind.CREDIT_PURCHASE: {
        S.PENDING: frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED, S.CANCELED}),
        S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
        S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED, S.DISPUTED, S.SUCCEEDED}),
        S.REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.SUCCEEDED, S.DISPUTED}),
        S.DISPUTED: frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
        S.FAILED: frozenset(),
        S.EXPIRED: frozenset(),
        S.CANCELED: frozenset(),
    },
    PaymentKind.AUTOPAY: {
        S.PENDING: frozenset({S.REQUIRES_ACTION, S.SUCCEEDED, S.FAILED, S.CANCELED}),
        S.REQUIRES_ACTION: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELED}),
        S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
        S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED, S.DISPUTED, S.SUCCEEDED}),
        S.REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.SUCCEEDED, S.DISPUTED}),
        S.DISPUTED: frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
        S.FAILED: frozenset(),
        S.CANCELED: frozenset(),
    },
    PaymentKind.ESCROW: {
        S.PENDING: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.FAILED, S.REVERTED}),
        S.REQUIRES_ACTION: frozenset({S.AUTHORIZED, S.FAILED, S.REVERTED, S.EXPIRED}),
        S.AUTHORIZED: frozenset({S.RELEASED, S.REVERTED, S.EXPIRED}),
        S.RELEASED: frozenset({S.REVERTED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
        S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED, S.DISPUTED, S.RELEASED, S.REVERTED}),
        S.REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.RELEASED, S.REVERTED, S.DISPUTED}),
        S.DISPUTED: frozenset({S.RELEASED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
        S.FAILED: frozenset(),
        S.REVERTED: frozenset(),
        S.EXPIRED: frozenset(),
    },
}


def can_transition(kind: PaymentKind, current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in TRANSITIONS[kind].get(current, frozenset())


# Statuses in which the customer's money was received.
PAID_STATUSES = frozenset({S.SUCCEEDED, S.RELEASED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})


def paid_status(kind: PaymentKind) -> PaymentStatus:
    """The status of a fully paid payment with nothing returned."""
    return S.RELEASED if kind is PaymentKind.ESCROW else S.SUCCEEDED


def settled_status(
    kind: PaymentKind, *, basis: int, returned: int, dispute_open: bool
) -> PaymentStatus:
    """The status a paid payment's totals call for."""
    if dispute_open:
        return S.DISPUTED
    if returned >= basis > 0:
        return S.REFUNDED
    if returned > 0:
        return S.PARTIALLY_REFUNDED
    return paid_status(kind)
