"""Task and Tasks as the ``background=`` of Starlette responses, on asyncio and on trio."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from backgrounder import Task, Tasks


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_background_task_and_tasks(backend: str) -> None:
    log: list[str] = []

    def send_email(to: str, *, subject: str) -> str:
        log.append(f"email {to} {subject}")
        return "sent"

    async def audit(event: str) -> None:
        log.append(f"audit {event}")

    async def one(request: Request) -> JSONResponse:
        return JSONResponse({"ok": 1}, background=Task(send_email, "a@x", subject="hi"))

    async def many(request: Request) -> JSONResponse:
        tasks = Tasks(as_group=True)
        tasks.add_task(send_email, "b@x", subject="yo")
        tasks.add_task(audit, "many")
        return JSONResponse({"ok": 2}, background=tasks)

    async def in_order(request: Request) -> JSONResponse:
        tasks = Tasks()
        tasks.add_task(audit, "first")
        tasks.add_task(audit, "second")
        return JSONResponse({"ok": 3}, background=tasks)

    app = Starlette(routes=[Route("/one", one), Route("/many", many), Route("/in-order", in_order)])
    with TestClient(app, backend=backend) as client:
        assert client.get("/one").json() == {"ok": 1}
        assert log == ["email a@x hi"]
        assert client.get("/many").json() == {"ok": 2}
        assert sorted(log[1:]) == ["audit many", "email b@x yo"]
        assert client.get("/in-order").json() == {"ok": 3}
        assert log[3:] == ["audit first", "audit second"]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_failing_background_task_reaches_the_server(backend: str) -> None:
    def broken() -> None:
        raise ValueError("in the background")

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({}, background=Task(broken))

    app = Starlette(routes=[Route("/", endpoint)])
    with TestClient(app, backend=backend) as client, pytest.raises(ValueError):
        client.get("/")
