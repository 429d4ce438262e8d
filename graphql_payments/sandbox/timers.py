"""What the passing of time does, applied whenever the sandbox looks at its clock.

- an uncaptured (manual capture) payment whose authorization is older than seven days is
  canceled with `cancellation_reason="automatic"` (`charge.expired`,
  `payment_intent.canceled`);
- an open Checkout Session past its `expires_at` expires (`checkout.session.expired`);
- a SEPA Direct Debit in `processing` settles after the settlement delay.

The sandbox checks before serving each request and after `Sandbox.advance_clock`, so real time
passing has the same effect as advancing the clock.
"""

from __future__ import annotations

from collections.abc import Callable

from graphql_payments.sandbox import checkout, intents
from graphql_payments.sandbox.state import State

ACTIONS: dict[str, Callable[[State, str], None]] = {
    "authorization_expiry": intents.expire_authorization,
    "checkout_expiry": checkout.expire_when_due,
    "debit_settlement": intents.settle_debit,
}


def run_due(state: State) -> int:
    """Apply every timer whose time has come; return how many fired."""
    fired = 0
    while True:
        due = state.due()
        if not due:
            return fired
        for action, object_id in due:
            with state.requesting(None, None):
                ACTIONS[action](state, object_id)
            fired += 1
