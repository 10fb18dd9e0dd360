"""Per-task output capture around a block of a test (one helper for every test folder)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import backgrounder as bg


@contextmanager
def captured() -> Iterator[None]:
    """Per-task output on, around a block inside the test: a fixture would install it too
    early, as pytest swaps sys.stdout and sys.stderr between a test's setup and its call."""
    bg.capture_output()
    try:
        yield
    finally:
        bg.release_output()
