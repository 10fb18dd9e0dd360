"""Retries: which failures run a task again, how long to wait first, what each attempt left.

A task's attempts are one run: it stays running while it waits between them, its
``elapsed`` and its ``timeout`` cover them all, and a cancel or a timeout ends the run
whatever attempt it is on (they are never retried). Only the failures of the task's own code
are, when they are instances of ``retry_on``.
"""

from __future__ import annotations

import random
import traceback as tb_module
from types import TracebackType
from typing import NamedTuple

from ._validate import safe_repr

__all__ = [
    "DEFAULT_DELAY",
    "KEEP_ERRORS",
    "MAX_DELAY",
    "AttemptError",
    "RetryPolicy",
    "add_note",
    "attempt_error",
    "check_retries",
    "check_retry_delay",
    "check_retry_on",
]

DEFAULT_DELAY = 1.0  # seconds before the first retry, unless retry_delay says otherwise
MAX_DELAY = 60.0  # the doubling stops here (or at retry_delay, if that is longer)
KEEP_ERRORS = 20  # earlier attempts' errors kept per task (the latest): bounded memory


class AttemptError(NamedTuple):
    """The error of one failed attempt of a task that was then tried again.

    The exception is kept without its traceback (its frames would keep every local of the
    attempt alive); ``traceback`` is the text, formatted when the attempt failed.
    """

    attempt: int
    """Which attempt failed (1 is the first try)."""
    exception: BaseException
    """What it raised."""
    traceback: str
    """The formatted traceback of ``exception``."""


class RetryPolicy(NamedTuple):
    """A run's retry options, resolved from the task's own and its group's defaults."""

    retries: int
    retry_on: tuple[type[BaseException], ...]
    delay: float

    def wait(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based): exponential backoff from
        ``delay``, doubling and capped at ``MAX_DELAY``, with AWS's "equal jitter" (a random
        point between half and all of it): tasks failing together do not all retry together,
        and each still waits at least half its backoff."""
        if self.delay == 0:
            return 0.0
        backoff = min(max(MAX_DELAY, self.delay), self.delay * 2.0 ** min(retry - 1, 64))
        return backoff / 2 + random.uniform(0, backoff / 2)

    @classmethod
    def resolve(
        cls,
        retries: int | None,
        retry_on: tuple[type[BaseException], ...] | None,
        delay: float | None,
        defaults: tuple[int | None, tuple[type[BaseException], ...] | None, float | None],
    ) -> RetryPolicy | None:
        """The policy of a run: each option the task's own, else its group's, else the
        default; None if no retries."""
        retries = retries if retries is not None else defaults[0]
        if not retries:
            return None
        retry_on = retry_on if retry_on is not None else defaults[1]
        delay = delay if delay is not None else defaults[2]
        return cls(
            retries,
            retry_on if retry_on is not None else (Exception,),
            delay if delay is not None else DEFAULT_DELAY,
        )


def attempt_error(attempt: int, exc: BaseException, tb: TracebackType | None) -> AttemptError:
    """The record of a failed attempt, with its traceback (``tb``) as text."""
    text = "".join(tb_module.format_exception(type(exc), exc, tb))
    return AttemptError(attempt, exc, text)


def add_note(error: BaseException, note: str) -> None:
    """``error.add_note(note)``, on Python 3.10 too (where tracebacks do not show it)."""
    notes = getattr(error, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
        error.__notes__ = notes  # type: ignore[attr-defined]  # as add_note() does (3.11+)
    notes.append(note)


def check_retries(retries: object) -> int:
    """How many times a failed task is tried again: an int >= 0."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(
            f"retries must be an int >= 0 (how many times a failure is tried again), "
            f"got {safe_repr(retries)}"
        )
    return retries


def check_retry_on(retry_on: object) -> tuple[type[BaseException], ...]:
    """The exception classes that are retried: one class, or a tuple of them."""
    items = retry_on if isinstance(retry_on, tuple) else (retry_on,)
    for item in items:
        if not (isinstance(item, type) and issubclass(item, Exception)):
            hint = (
                ": KeyboardInterrupt, SystemExit and cancellation are never retried"
                if isinstance(item, type) and issubclass(item, BaseException)
                else ""
            )
            raise TypeError(
                f"retry_on must be an Exception subclass or a tuple of them, "
                f"got {safe_repr(item)}{hint}"
            )
    if not items:
        raise TypeError("retry_on must name at least one Exception subclass, got ()")
    return items


def check_retry_delay(delay: object) -> float:
    """Seconds before the first retry: a finite number >= 0 (0: retry at once)."""
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 3600:
        raise ValueError(
            f"retry_delay must be a number of seconds from 0 to 3600, got {safe_repr(delay)}"
        )
    return float(delay)
