import threading
import time

import pytest

from healer.parallel import bounded_map


def test_results_in_order_with_bounded_concurrency() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def work(x: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return x * x

    assert bounded_map(work, list(range(12)), workers=3) == [x * x for x in range(12)]
    assert peak == 3


def test_first_error_raised_and_nothing_new_started() -> None:
    started: list[int] = []

    def work(x: int) -> int:
        started.append(x)
        if x == 0:
            raise ValueError("boom")
        time.sleep(0.05)
        return x

    with pytest.raises(ValueError, match="boom"):
        bounded_map(work, list(range(20)), workers=2)
    assert sorted(started) in ([0], [0, 1])  # the failing call, at most the one beside it


def test_empty_input() -> None:
    assert bounded_map(lambda x: x, [], workers=4) == []
