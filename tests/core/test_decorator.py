"""@background: calls start in the background and return a Handle at once."""

from __future__ import annotations

import threading

import anyio
import pytest

from backgrounder import Handle, background


def test_bare_on_a_sync_function_does_not_block() -> None:
    release = threading.Event()

    @background
    def slow(x: int) -> int:
        release.wait(10)
        return x * 2

    handle = slow(4)  # returns while the function is blocked
    assert isinstance(handle, Handle)
    assert not handle.done()
    release.set()
    assert handle.result(timeout=10) == 8
    assert slow.__name__ == "slow"


def test_bare_on_an_async_function_runs_it() -> None:
    @background
    async def add(a: int, b: int) -> int:
        await anyio.sleep(0)
        return a + b

    assert add(1, b=2).result(timeout=10) == 3


def test_with_options() -> None:
    @background(name="fetch", timeout=0.05)
    async def forever() -> None:
        await anyio.sleep_forever()

    handle = forever()
    assert handle.name == "fetch"
    with pytest.raises(TimeoutError):
        handle.result(timeout=10)
    assert handle.state == "failed"


def test_with_empty_parentheses_and_thread_loop() -> None:
    @background()
    def one() -> int:
        return 1

    @background(thread_loop=True)
    def two() -> int:
        return 2

    assert one().result(timeout=10) == 1
    assert two().result(timeout=10) == 2


def test_each_call_is_its_own_task() -> None:
    @background
    def ident(x: int) -> int:
        return x

    handles = [ident(i) for i in range(5)]
    assert [h.result(timeout=10) for h in handles] == list(range(5))


@pytest.mark.anyio
async def test_in_async_code_it_runs_on_the_running_loop() -> None:
    me = threading.get_ident()

    @background
    async def where() -> int:
        return threading.get_ident()

    handle = where()
    assert not handle.done()
    assert await handle == me
