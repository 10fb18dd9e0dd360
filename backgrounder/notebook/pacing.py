"""When a table may redraw: a rate limiter with named urgencies and a message budget.

No widgets here: the pacer only answers "when is the next redraw due", given how urgent
the news is and how many messages the last redraws sent. Each redraw is whole (every
changed row in the window is brought up to date at once, in a bounded number of
messages); the budget spaces redraws out, it never splits one.

IOPub drops messages past about 1,000 queued and jupyter_server allows 1,000 per second
(DESIGN.md): at ``INTERVAL`` apart and a handful of messages per redraw, a table sends
tens per second whatever the number of tasks.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["BURST", "ELAPSED_EVERY", "INTERVAL", "RATE", "Pacer", "Urgency"]

INTERVAL = 0.1  # seconds between redraws at least (about 10 a second)
ELAPSED_EVERY = 1.0  # a table with running tasks and no other news redraws this often
RATE = 100.0  # messages per second a table may send on average...
BURST = 120.0  # ...and at once: a full window of Cancel buttons flipping, plus the text


class Urgency(IntEnum):
    """How soon news must reach the frontend; a lower value is more urgent."""

    FINAL = 0  # the work ended (or the kernel is stopping): draw the final table now
    CHANGE = 1  # a task started, progressed, printed or ended: within INTERVAL
    TICK = 2  # only elapsed times move: within ELAPSED_EVERY

    @property
    def delay(self) -> float:
        """At most how long after the last redraw this news may wait."""
        return _DELAYS[self]


_DELAYS = {Urgency.FINAL: 0.0, Urgency.CHANGE: INTERVAL, Urgency.TICK: ELAPSED_EVERY}


class Pacer:
    """A token bucket of messages plus a minimum interval between redraws.

    ``due(urgency, now)`` says when the next redraw should run; ``spent(messages, now)``
    records a redraw. Not thread-safe: the table's writer is its only user.
    """

    def __init__(self, now: float, rate: float = RATE, burst: float = BURST) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._refilled = now
        self._last = now  # the first redraw comes one interval after the table is made

    def _refill(self, now: float) -> None:
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now

    def due(self, urgency: Urgency, now: float) -> float:
        """When a redraw for news of ``urgency`` should happen (never before ``now``)."""
        self._refill(now)
        at = self._last + urgency.delay
        if urgency is not Urgency.FINAL and self._tokens < 0:  # in debt: wait for the refill
            at = max(at, now - self._tokens / self.rate)
        return max(at, now)

    def spent(self, messages: int, now: float) -> None:
        """A redraw ran at ``now`` and sent ``messages``."""
        self._refill(now)
        self._tokens -= messages
        self._last = now
