"""Shared fixtures: every async test runs on asyncio and on trio (anyio's pytest plugin)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True, scope="session")
def _journal_in_a_temporary_folder(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """The task journal of every extension loaded by the tests (in-process, real kernels and
    JupyterLab, which inherit the environment) goes to one temporary file, never to the
    user's Jupyter data folder. Tests of the journal itself set their own."""
    old = os.environ.get("BACKGROUNDER_JOURNAL")
    os.environ["BACKGROUNDER_JOURNAL"] = str(tmp_path_factory.mktemp("journal") / "tests.sqlite3")
    yield
    if old is None:
        os.environ.pop("BACKGROUNDER_JOURNAL", None)
    else:
        os.environ["BACKGROUNDER_JOURNAL"] = old
