"""Exceptions the library raises on its own account."""

from __future__ import annotations

import concurrent.futures
import sys

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup, ExceptionGroup
else:  # pragma: no cover - Python 3.10
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup  # type: ignore[import-not-found]

__all__ = ["BaseExceptionGroup", "ExceptionGroup", "TaskCancelled"]


class TaskCancelled(concurrent.futures.CancelledError):
    """Raised when awaiting, or asking the result of, work that was cancelled with ``cancel()``.

    An ``Exception`` (not asyncio's ``BaseException``), so that cancelling one task never looks
    like the awaiting coroutine itself being cancelled.
    """
