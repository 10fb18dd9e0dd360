"""Per-task output capture around a block, for the executor tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import backgrounder as bg


@contextmanager
def captured() -> Iterator[None]:
    """Per-task output on (inside the test: pytest swaps sys.stdout between phases)."""
    bg.capture_output()
    try:
        yield
    finally:
        bg.release_output()
