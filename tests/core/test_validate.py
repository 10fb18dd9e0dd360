"""Mistakes raise TypeError when the task is built, naming the callable and the fix."""

from __future__ import annotations

import asyncio
import functools
import gc

import pytest

from backgrounder import Task, Tasks, TaskState, background


def two(a: int, b: int) -> int:
    return a + b


async def atwo(a: int, b: int) -> int:
    return a + b


def gen() -> object:
    yield 1


async def agen() -> object:
    yield 1


def test_non_callable() -> None:
    with pytest.raises(TypeError, match="needs a callable, got int 1"):
        Task(1)  # type: ignore[arg-type]


def test_coroutine_object_is_refused_and_closed() -> None:
    # filterwarnings=error turns a "coroutine ... was never awaited" RuntimeWarning into a failure
    with pytest.raises(TypeError, match=r"did you mean Task\(atwo, \.\.\.\) instead of Task\(atwo"):
        Task(atwo(1, 2))  # type: ignore[arg-type]
    gc.collect()


def test_bad_arguments_name_the_callable() -> None:
    with pytest.raises(TypeError, match=r"two\(\) cannot take the arguments given: .*'b'"):
        Task(two, 1)
    with pytest.raises(TypeError, match=r"two\(\) cannot take .*unexpected keyword"):
        Task(two, 1, 2, c=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"atwo\(\) cannot take"):
        Task(atwo, 1, 2, 3)  # type: ignore[call-arg]


def test_verdicts_are_per_shape() -> None:
    assert not Task(two, 1, 2).is_async
    with pytest.raises(TypeError):
        Task(two, 1)
    assert not Task(two, 1, b=2).is_async
    assert Task(atwo, a=1, b=2).is_async


@pytest.mark.parametrize("func", [gen, agen])
def test_generator_functions(func: object) -> None:
    with pytest.raises(TypeError, match="generator function"):
        Task(func)  # type: ignore[arg-type]


def test_partial_and_methods_and_callables() -> None:
    assert Task(functools.partial(atwo, 1), 2).is_async
    with pytest.raises(TypeError, match="cannot take"):
        Task(functools.partial(two, 1), 2, 3)

    class Obj:
        def method(self, x: int) -> int:
            return x

        async def __call__(self, x: int) -> int:
            return x

    assert not Task(Obj().method, 1).is_async
    with pytest.raises(TypeError, match=r"Obj.method\(\) cannot take"):
        Task(Obj().method, 1, 2)  # type: ignore[call-arg]
    assert Task(Obj(), 1).is_async


def test_builtins_without_signature_are_accepted() -> None:
    """No signature to check against: the call itself decides, when the task runs."""
    task = Task(max, 3, 7)  # inspect.signature(max) raises ValueError
    assert not task.is_async
    assert asyncio.run(task()) == 7
    wrong = Task(max)  # accepted at construction...
    with pytest.raises(TypeError):  # ...and fails when it runs, as the call would
        asyncio.run(wrong())
    assert wrong.state is TaskState.FAILED


def test_tasks_validation() -> None:
    with pytest.raises(TypeError, match="Tasks\\(\\) takes Task objects, got function"):
        Tasks([two])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="limit must be a positive int"):
        Tasks(limit=0)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        Tasks(timeout=-1)
    with pytest.raises(TypeError, match="add\\(\\) takes a Task"):
        Tasks().add(two)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"two\(\) cannot take"):
        Tasks().add_task(two, 1)


def test_background_checks_the_call_at_once() -> None:
    with pytest.raises(TypeError, match="@background decorates a function"):
        background(3)  # type: ignore[call-overload]
    started = background(two)
    with pytest.raises(TypeError, match=r"two\(\) cannot take"):
        started(1)  # type: ignore[call-arg]
