"""Executors shared by the executor tests: a local Dask cluster, and one of each kind."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest

from backgrounder.executors import close_process_pool, process_pool


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A Dask client of a local cluster: worker processes on loopback."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        processes=True,
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=":0",  # another cluster may hold 8787
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def executors(client: Any) -> Iterator[dict[str, Executor | None]]:
    """One executor of each kind, by name; None is the library's own threads."""
    threads = ThreadPoolExecutor(2)
    stdlib = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"))
    yield {
        "threads": None,
        "thread pool": threads,
        "processes": process_pool(2),
        "stdlib processes": stdlib,
        "dask": client,
    }
    threads.shutdown()
    stdlib.shutdown()
    close_process_pool()
