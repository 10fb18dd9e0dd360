"""Checks made when a task is built, so that mistakes surface in the cell that made them."""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import reprlib
import threading
import types
import weakref
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

__all__ = [
    "call_text",
    "callable_name",
    "check_executor",
    "check_flag",
    "check_name",
    "check_positive_int",
    "check_progress",
    "check_task",
    "check_timeout",
    "is_async_callable",
    "no_coroutine",
    "safe_repr",
]

# Binding depends only on the callable, how many positional arguments and which keyword
# names: remember the verdicts so that building 100,000 tasks costs one bind per shape
# (inspect.signature + bind is about 10 us). Only plain functions are remembered, weakly, so
# that no lambda, bound method or callable object (and what it holds) is kept alive by us.
_Verdict = tuple[bool, str | None]
_verdicts: weakref.WeakKeyDictionary[Callable[..., Any], dict[tuple[Any, ...], _Verdict]] = (
    weakref.WeakKeyDictionary()
)
_MAX_SHAPES = 64

_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4


def safe_repr(value: object) -> str:
    """A short repr that never raises (a broken ``__repr__`` must not break a table)."""
    try:
        return _repr.repr(value)
    except Exception:
        return f"<{type(value).__name__} object (repr failed)>"


def unwrap(func: object) -> object:
    """The function inside any ``functools.partial`` layers."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def callable_name(func: object) -> str:
    func = unwrap(func)
    for attr in ("__qualname__", "__name__"):
        name = getattr(func, attr, None)
        if isinstance(name, str):
            return name
    return type(func).__name__


def call_text(
    func: object, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int | None = None
) -> str:
    """``func(1, key='v')``, each value a short repr; the arguments cut to ``limit`` chars."""
    parts = [safe_repr(a) for a in args]
    parts += [f"{k}={safe_repr(v)}" for k, v in kwargs.items()]
    summary = ", ".join(parts)
    if limit is not None and len(summary) > limit:
        summary = summary[: limit - 3] + "..."
    return f"{callable_name(func)}({summary})"


def is_async_callable(func: object) -> bool:
    """True for an ``async def`` function, a partial of one, or an object with one as
    ``__call__``."""
    func = unwrap(func)
    return inspect.iscoroutinefunction(func) or (
        callable(func) and inspect.iscoroutinefunction(getattr(func, "__call__", None))  # noqa: B004
    )


def check_task(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Raise TypeError unless ``func(*args, **kwargs)`` can run as a task; True if async."""
    kind = type(func)
    if kind is types.FunctionType or (
        kind is types.MethodType and type(func.__func__) is types.FunctionType  # type: ignore[attr-defined]
    ):
        plain = func if kind is types.FunctionType else func.__func__  # type: ignore[attr-defined]
        shapes = _verdicts.get(plain)
        if shapes is None:
            shapes = _verdicts[plain] = {}
        key = (kind is types.MethodType, len(args), *kwargs)
        verdict = shapes.get(key)
        if verdict is None:
            verdict = _judge(func, len(args), tuple(kwargs))
            if len(shapes) >= _MAX_SHAPES:
                shapes.clear()
            shapes[key] = verdict
    else:
        verdict = _judge(func, len(args), tuple(kwargs))
    is_async, problem = verdict
    if problem is not None:
        raise TypeError(problem)
    return is_async


def _judge(func: Any, nargs: int, keywords: tuple[str, ...]) -> tuple[bool, str | None]:
    if inspect.iscoroutine(func):
        name = getattr(func, "__qualname__", type(func).__name__)
        func.close()  # it will never run: spare the user a "never awaited" RuntimeWarning
        return False, (
            f"a task needs a function, but got the coroutine object {name}(...): "
            f"did you mean Task({name}, ...) instead of Task({name}(...))?"
        )
    if inspect.isawaitable(func) and not callable(func):
        return False, (
            f"a task needs a function, but got the awaitable {type(func).__name__} object: "
            f"await it directly, or pass the function that makes it"
        )
    if not callable(func):
        return False, f"a task needs a callable, got {type(func).__name__} {safe_repr(func)}"
    name = callable_name(func)
    target = unwrap(func)
    if not inspect.isfunction(target) and not inspect.ismethod(target):
        target = getattr(target, "__call__", target)  # noqa: B004 - a callable object
    if inspect.isgeneratorfunction(target):
        return False, (
            f"{name} is a generator function, which yields values instead of returning one; "
            f"wrap it in a function that consumes it, e.g. lambda: list({name}(...))"
        )
    if inspect.isasyncgenfunction(target):
        return False, (
            f"{name} is an async generator function, which yields values instead of returning "
            f"one; wrap it in an async function that consumes it, e.g. "
            f"[x async for x in {name}(...)]"
        )
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return is_async_callable(func), None
    try:
        signature.bind(*range(nargs), **dict.fromkeys(keywords))
    except TypeError as exc:
        return False, f"{name}() cannot take the arguments given: {exc}"
    return is_async_callable(func), None


def no_coroutine(name: str, result: Any) -> Any:
    """``result``, unless a sync callable returned a coroutine (a forgotten ``async def``)."""
    if inspect.iscoroutine(result):
        result.close()
        raise TypeError(f"{name} returned a coroutine: declare it `async def` to have it awaited")
    return result


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {safe_repr(name)}")
    return name


def check_positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive int or None, got {safe_repr(value)}")
    return value


def check_timeout(timeout: object) -> float:
    """A timeout in seconds: positive, and no longer than the stdlib's waits accept."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ValueError(f"timeout must be a positive number of seconds, got {safe_repr(timeout)}")
    # compared before any float(): float(10**400) raises OverflowError
    if not 0 < timeout <= threading.TIMEOUT_MAX:
        raise ValueError(
            f"timeout must be a positive number of seconds up to {threading.TIMEOUT_MAX:.0f} "
            f"(None for no timeout), got {safe_repr(timeout)}"
        )
    return float(timeout)


def check_flag(value: object, what: str) -> bool:
    """``value`` as a bool; strings and other objects are refused (``"no"`` is truthy)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{what} must be True or False, got {type(value).__name__} {safe_repr(value)}")


def check_progress(done: object, total: object, where: str) -> tuple[float, float | None]:
    """``(done, total)`` as real, finite numbers (``total`` positive, or None), else raise
    one line starting with ``where``.

    A view divides and formats these: strings, None, NaN or numbers past float range would
    break every rendering of the task. Integers stay integers; numpy scalars become Python's.
    """
    done_value = _progress_number(done, "done", where)
    if done_value < 0:
        raise ValueError(f"{where}: done must be >= 0, got {safe_repr(done)}")
    if total is None:
        return done_value, None
    total_value = _progress_number(total, "total", where)
    if total_value <= 0:
        raise ValueError(f"{where}: total must be > 0 (or None), got {safe_repr(total)}")
    return done_value, total_value


def _progress_number(value: object, what: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{where}: {what} must be a number, got {type(value).__name__} {safe_repr(value)}"
        )
    try:
        as_float = float(value)
    except (OverflowError, ValueError, TypeError):
        as_float = math.inf
    if not math.isfinite(as_float):
        raise ValueError(f"{where}: {what} must be a finite number, got {safe_repr(value)}")
    return int(value) if isinstance(value, numbers.Integral) else as_float


def check_executor(executor: object, owner: str) -> Executor:
    """Raise unless ``executor`` can run work (an instance with a ``submit`` method)."""
    if isinstance(executor, type):
        name = executor.__name__
        raise TypeError(
            f"executor for {owner} must be an executor instance, got the class {name}: "
            f"did you mean {name}()?"
        )
    if not isinstance(executor, Executor) and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"executor for {owner} must be a concurrent.futures.Executor or a Dask Client "
            f"(anything with submit()), got {type(executor).__name__}"
        )
    return executor  # type: ignore[return-value]
