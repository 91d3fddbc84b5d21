"""Bounded parallel map on daemon threads, so Ctrl-C never waits for calls in flight.

`concurrent.futures` joins its worker threads at interpreter exit, so an interrupted run
would hang until every HTTP call in flight had answered (minutes, for a slow model).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def bounded_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """`[fn(x) for x in items]` with at most `workers` at once; the first error is raised
    once the calls already started have ended, and no new call starts after it."""
    todo: queue.SimpleQueue[tuple[int, T]] = queue.SimpleQueue()
    for entry in enumerate(items):
        todo.put(entry)
    results: dict[int, R] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                index, item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = fn(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                errors.append(exc)
                stop.set()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(max(1, workers))]
    for thread in threads[: len(items)]:
        thread.start()
    try:
        for thread in threads[: len(items)]:
            while thread.is_alive():
                thread.join(0.2)  # short joins keep the main thread interruptible
    finally:
        stop.set()
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(items))]
