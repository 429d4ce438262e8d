"""The sandbox clock.

Stripe objects carry unix timestamps (`created`, `expires_at`, `capture_before`, ...). The
sandbox takes them from this clock, which follows real time but can be moved forward, so a test
can jump seven days ahead and watch an uncaptured payment lose its authorization, or a day ahead
and watch an open Checkout Session expire, without waiting.

The clock never moves backwards. Webhook signatures do not use it: receivers check the signature
timestamp against their own wall clock.
"""

from __future__ import annotations

import time


class Clock:
    """Real time plus an offset that only grows."""

    def __init__(self) -> None:
        self._offset = 0

    def now(self) -> int:
        """Current sandbox time, in unix seconds."""
        return int(time.time()) + self._offset

    @property
    def offset(self) -> int:
        """Seconds the clock runs ahead of real time."""
        return self._offset

    def advance(self, seconds: int) -> int:
        """Move the clock forward by `seconds` and return the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock cannot go backwards")
        self._offset += seconds
        return self.now()

    def reset(self) -> None:
        """Go back to real time."""
        self._offset = 0
