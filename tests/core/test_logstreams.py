"""Logging inside a task: its records go to the task's output, whenever the handler was made."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

import backgrounder
from backgrounder import Task

pytestmark = pytest.mark.anyio


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("backgrounder-test-logstreams")
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def work(log: logging.Logger) -> None:
    log.info("from the task")


async def test_a_handler_made_before_capture(
    logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = logging.StreamHandler()  # sys.stderr as it is now: no router yet
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    before = handler.stream
    backgrounder.capture_output()
    try:
        task = Task(work, logger)
        await task()
        logger.info("from the cell")
    finally:
        backgrounder.release_output()
    assert task.output == "INFO from the task\n"
    assert capsys.readouterr().err == "INFO from the cell\n"
    assert handler.stream is before  # put back


async def test_a_handler_made_while_capturing_is_put_back(logger: logging.Logger) -> None:
    original = sys.stderr
    backgrounder.capture_output()
    try:
        handler = logging.StreamHandler()  # the router
        logger.addHandler(handler)
        task = Task(work, logger)
        await task()
    finally:
        backgrounder.release_output()
    assert task.output == "from the task\n"
    assert handler.stream is original


async def test_other_streams_are_left_alone(logger: logging.Logger) -> None:
    own = io.StringIO()
    handler = logging.StreamHandler(own)
    logger.addHandler(handler)
    backgrounder.capture_output()
    try:
        task = Task(work, logger)
        await task()
    finally:
        backgrounder.release_output()
    assert task.output == "" and own.getvalue() == "from the task\n"
    assert handler.stream is own
