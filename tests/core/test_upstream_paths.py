"""Upstream 0.2's module paths: ``backgrounder.tasks`` and ``backgrounder.decorator``.

Code written for 0.2 imports ``Task``/``Tasks`` from ``backgrounder.tasks`` and
``background`` from ``backgrounder.decorator`` (so do its own tests, which use Esmerald's test
client). Those paths give the very objects ``backgrounder`` exports, and work as 0.2 code
uses them: as the ``background=`` of Starlette and Esmerald responses.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import backgrounder
import backgrounder.concurrency
import backgrounder.decorator
import backgrounder.tasks
from backgrounder.decorator import background
from backgrounder.tasks import Task, Tasks

UPSTREAM_PATHS = {
    "backgrounder.tasks": ["Task", "Tasks"],
    "backgrounder.decorator": ["background"],
    "backgrounder.concurrency": [
        "AsyncCallable",
        "enforce_async_callable",
        "run_in_threadpool",
        "run_sync",
    ],
}


@pytest.mark.parametrize("module", sorted(UPSTREAM_PATHS))
def test_upstream_names_are_the_package_objects(module: str) -> None:
    mod = importlib.import_module(module)
    for name in UPSTREAM_PATHS[module]:
        assert hasattr(mod, name), f"{module}.{name} is gone"
        if hasattr(backgrounder, name):
            assert getattr(mod, name) is getattr(backgrounder, name), f"{module}.{name}"
    if module != "backgrounder.concurrency":
        assert sorted(mod.__all__) == sorted(UPSTREAM_PATHS[module])


def test_upstream_paths_import_nothing_heavy() -> None:
    code = (
        "import sys, backgrounder.tasks, backgrounder.decorator\n"
        "heavy = {'IPython', 'ipywidgets', 'nest_asyncio', 'nest_asyncio2', 'loky'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _work_log() -> tuple[list[str], Task, Tasks]:
    log: list[str] = []

    def increment(amount: int) -> int:
        log.append(f"+{amount}")
        return amount

    async def note(text: str) -> None:
        log.append(text)

    tasks = Tasks()
    tasks.add_task(increment, amount=1)
    tasks.add_task(note, "second")
    return log, Task(increment, 5), tasks


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_starlette_through_upstream_paths(backend: str) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    log, task, tasks = _work_log()

    async def one(request: Request) -> PlainTextResponse:
        return PlainTextResponse("one", background=task)

    async def many(request: Request) -> PlainTextResponse:
        return PlainTextResponse("many", background=tasks)

    app = Starlette(routes=[Route("/one", one), Route("/many", many)])
    with TestClient(app, backend=backend) as client:
        assert client.get("/one").text == "one"
        assert client.get("/many").text == "many"
    assert log == ["+5", "+1", "second"]
    assert task.result == 5 and tasks.results == [1, None]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_esmerald_through_upstream_paths(backend: str) -> None:
    """What upstream 0.2's own tests/test_background.py does, with Esmerald's test client."""
    pytest.importorskip("esmerald", reason="esmerald is in the `test` dependency group")
    from esmerald.responses import Response
    from esmerald.testclient import EsmeraldTestClient

    log, task, tasks = _work_log()

    def app_for(background_work: Task | Tasks) -> object:
        async def app(scope: object, receive: object, send: object) -> None:
            response = Response("started", media_type="text/plain", background=background_work)
            await response(scope, receive, send)  # type: ignore[arg-type]

        return app

    for work in (task, tasks):
        client = EsmeraldTestClient(app_for(work), backend=backend)  # type: ignore[arg-type]
        assert client.get("/").text == "started"
    assert log == ["+5", "+1", "second"]

    # a failing task in a sequence stops it, and the error reaches the server (as in 0.2)
    counter: list[int] = []

    def fail_first() -> None:
        counter.append(1)
        if len(counter) == 1:
            raise LookupError("first call fails")

    failing = Tasks()
    failing.add_task(fail_first)
    failing.add_task(fail_first)
    with pytest.raises(LookupError):
        EsmeraldTestClient(app_for(failing), backend=backend).get("/")  # type: ignore[arg-type]
    assert counter == [1]


def test_decorator_from_upstream_path_returns_the_result() -> None:
    @background
    def work(number: int) -> int:
        return number * 2

    # 0.2 blocked the caller; now the call returns a handle at once (docs/migrating.md)
    assert work(21).result(timeout=10) == 42
