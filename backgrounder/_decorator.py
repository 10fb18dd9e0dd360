"""``@background``: calling the function starts it in the background and returns its handle."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, overload

from ._handle import Handle
from ._task import Task
from ._validate import check_name, check_timeout

__all__ = ["background"]

P = ParamSpec("P")


@overload
def background(func: Callable[P, Any], /) -> Callable[P, Handle]: ...
@overload
def background(
    *, name: str | None = None, timeout: float | None = None, thread_loop: bool = False
) -> Callable[[Callable[P, Any]], Callable[P, Handle]]: ...
def background(
    func: Callable[P, Any] | None = None,
    /,
    *,
    name: str | None = None,
    timeout: float | None = None,
    thread_loop: bool = False,
) -> Callable[P, Handle] | Callable[[Callable[P, Any]], Callable[P, Handle]]:
    """Make calls of ``func`` (sync or async) start in the background and return a ``Handle``.

    Arguments are checked at the call, so a wrong call raises ``TypeError`` right there.
    Use bare (``@background``) or with options (``@background(timeout=60)``).
    """

    if name is not None:
        check_name(name)
    if timeout is not None:
        check_timeout(timeout)  # a bad option fails at the decoration, not at each call

    def decorate(fn: Callable[P, Any]) -> Callable[P, Handle]:

        @functools.wraps(fn)
        def start_in_background(*args: P.args, **kwargs: P.kwargs) -> Handle:
            task = Task(fn, *args, **kwargs).options(name=name, timeout=timeout)
            return task.start(thread_loop=thread_loop)

        return start_in_background

    if func is None:
        return decorate
    if not callable(func):
        raise TypeError(f"@background decorates a function, got {type(func).__name__}")
    return decorate(func)
