"""Logging handlers made before output capture began: a task's records go to the task.

A ``logging.StreamHandler`` keeps the stream it was given, ``sys.stderr`` as it was then: a
notebook that calls ``logging.basicConfig()`` before ``%load_ext backgrounder`` had every
record a task logged written past the router, into the cell that started the task instead of
the task's output (measured in ipykernel 7.4). While capture is on, such handlers write
through the router (``StreamHandler.setStream``): records logged outside tasks reach the same
stream as before. Release points every handler back at the stream behind its router.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

__all__ = ["adopt", "restore"]


def _stream_handlers() -> Iterator[logging.StreamHandler[Any]]:
    loggers: list[Any] = [logging.getLogger()]
    loggers += list(logging.Logger.manager.loggerDict.values())
    seen: set[int] = set()
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):  # PlaceHolders have none
            if isinstance(handler, logging.StreamHandler) and id(handler) not in seen:
                seen.add(id(handler))
                yield handler


def adopt(routers: dict[Any, Any]) -> None:
    """Point handlers writing to a routed stream (a key) at its router (the value)."""
    for handler in _stream_handlers():
        router = routers.get(id(handler.stream))
        if router is not None:
            handler.setStream(router)


def restore(router_type: type[Any]) -> None:
    """Point every handler writing to a router of ``router_type`` at the stream behind it."""
    for handler in _stream_handlers():
        stream = handler.stream
        if isinstance(stream, router_type):
            handler.setStream(stream.original)
