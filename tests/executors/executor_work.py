"""Functions the executor tests send to worker processes (importable there: no pytest)."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path


def spin(n: int) -> int:
    """CPU-bound work that holds the GIL: about 1 s for n=15_000_000 on this machine."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def double(x: int) -> int:
    return 2 * x


def chatty(x: int) -> int:
    print(f"working on {x}")
    print(f"warning about {x}", file=sys.stderr)
    return x + 1


def boom(x: int) -> int:
    print(f"about to fail on {x}")
    raise ValueError(f"bad input {x}")


def pid(_: object = None) -> int:
    return os.getpid()


def nap(seconds: float, marker: str | None = None) -> float:
    """Sleep; first touch ``marker`` (a file) so a test can see the call has started."""
    if marker is not None:
        Path(marker).touch()
    time.sleep(seconds)
    return seconds


def span(seconds: float) -> tuple[int, float, float]:
    """Busy for ``seconds`` of CPU; returns (pid, start, end) in wall-clock time."""
    start = time.time()
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass
    return os.getpid(), start, time.time()


def flood(lines: int) -> int:
    """Print ``lines`` numbered lines of 8 characters, every tenth to stderr."""
    for i in range(lines):
        print(f"{i:07d}", file=sys.stderr if i % 10 == 9 else sys.stdout)
    return lines


def flood_text(lines: int) -> str:
    """What ``flood(lines)`` prints, in order."""
    return "".join(f"{i:07d}\n" for i in range(lines))


class CardDeclined(Exception):
    """The common pattern: ``__init__`` takes two arguments but gives ``super()`` one, so
    the exception pickles but does not unpickle (pickle calls ``CardDeclined(message)``)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} (code {code})")
        self.code = code


class Unloadable:
    """Pickles on the worker; unpickling it raises."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_refuse, ())


def _refuse() -> None:
    raise RuntimeError("this object refuses to be rebuilt")


class LockedError(Exception):
    """An exception holding a lock: it does not pickle at all."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def declined(x: int) -> int:
    print(f"charging {x}")
    raise CardDeclined(x, "card declined")


def unloadable(x: int) -> Unloadable:
    print(f"building {x}")
    return Unloadable()


def locked(x: int) -> int:
    print(f"locking {x}", file=sys.stderr)
    raise LockedError(f"stuck on {x}")


def meet(here: str, there: str, timeout: float = 60.0) -> int:
    """Touch the file ``here``, then wait until the file ``there`` exists: two calls with
    swapped names can only both return if they ran at the same time."""
    Path(here).touch()
    deadline = time.monotonic() + timeout
    while not Path(there).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{there} never appeared: the other call did not run meanwhile")
        time.sleep(0.01)
    return os.getpid()


def fan_out(x: int) -> int:
    """Print from a thread it starts and from a ThreadPoolExecutor's workers."""
    from concurrent.futures import ThreadPoolExecutor

    thread = threading.Thread(target=print, args=(f"thread of {x}",))
    thread.start()
    thread.join()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(print, [f"pool {x}.{i}" for i in range(2)]))
    return x


class Frame(bytearray):
    """Pickles its data out of band with protocol 5, as NumPy arrays do (no NumPy needed)."""

    def __reduce_ex__(self, protocol: int):  # type: ignore[no-untyped-def]
        if protocol >= 5:
            import pickle

            return type(self)._rebuild, (pickle.PickleBuffer(self),), None
        return type(self)._rebuild, (bytes(self),), None

    @classmethod
    def _rebuild(cls, data: object) -> Frame:
        return cls(memoryview(data))  # type: ignore[arg-type]


def frame(n: int) -> Frame:
    return Frame(b"ab" * n)


def from_elsewhere(directory: str, module: str, fail: bool) -> object:
    """Raise, or return, an instance of a class importable on the worker only."""
    import importlib

    if directory not in sys.path:
        sys.path.insert(0, directory)
    found = importlib.import_module(module)
    print(f"elsewhere {fail}")
    if fail:
        raise found.Elsewhere("from afar")
    return found.Elsewhere("a result")


def flaky(counter: str, failures: int) -> int:
    """Fail ``failures`` times (each call appends a line to ``counter``), then return the
    number of calls: how retry tests count attempts across processes."""
    with open(counter, "a") as file:
        file.write("call\n")
    calls = len(Path(counter).read_text().splitlines())
    if calls <= failures:
        print(f"attempt {calls} fails")
        raise OSError(f"attempt {calls}")
    return calls
