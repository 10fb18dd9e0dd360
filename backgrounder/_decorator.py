"""``@background``: calling the function starts it in the background and returns its handle."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, overload

from ._handle import Handle
from ._retry import check_retries, check_retry_delay, check_retry_on
from ._task import Task
from ._validate import check_name, check_timeout

__all__ = ["background"]

P = ParamSpec("P")


@overload
def background(func: Callable[P, Any], /) -> Callable[P, Handle]: ...
@overload
def background(
    *,
    name: str | None = None,
    timeout: float | None = None,
    thread_loop: bool = False,
    retries: int | None = None,
    retry_on: type[Exception] | tuple[type[Exception], ...] | None = None,
    retry_delay: float | None = None,
) -> Callable[[Callable[P, Any]], Callable[P, Handle]]: ...
def background(
    func: Callable[P, Any] | None = None,
    /,
    *,
    name: str | None = None,
    timeout: float | None = None,
    thread_loop: bool = False,
    retries: int | None = None,
    retry_on: type[Exception] | tuple[type[Exception], ...] | None = None,
    retry_delay: float | None = None,
) -> Callable[P, Handle] | Callable[[Callable[P, Any]], Callable[P, Handle]]:
    """Make calls of ``func`` (sync or async) start in the background and return a ``Handle``.

    Arguments are checked at the call, so a wrong call raises ``TypeError`` right there.
    Use bare (``@background``) or with options (``@background(timeout=60, retries=3)``:
    see ``Task.options``).
    """

    # a bad option fails at the decoration, not at each call
    options: dict[str, Any] = {
        "name": None if name is None else check_name(name),
        "timeout": None if timeout is None else check_timeout(timeout),
        "retries": None if retries is None else check_retries(retries),
        "retry_on": None if retry_on is None else check_retry_on(retry_on),
        "retry_delay": None if retry_delay is None else check_retry_delay(retry_delay),
    }

    def decorate(fn: Callable[P, Any]) -> Callable[P, Handle]:

        @functools.wraps(fn)
        def start_in_background(*args: P.args, **kwargs: P.kwargs) -> Handle:
            task = Task(fn, *args, **kwargs).options(**options)
            return task.start(thread_loop=thread_loop)

        return start_in_background

    if func is None:
        return decorate
    if not callable(func):
        raise TypeError(f"@background decorates a function, got {type(func).__name__}")
    return decorate(func)
