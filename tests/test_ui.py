"""The CLI's progress output: one line per event, and a live line of tokens being written."""

from __future__ import annotations

import io
import threading

import pytest
from rich.console import Console

from healer import ui


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    out = io.StringIO()
    monkeypatch.setattr(ui, "console", Console(file=out, width=120, highlight=False))
    monkeypatch.setattr(ui, "LIVE_INTERVAL", 0.0)
    return out


def test_tokens_show_on_one_live_line_that_the_next_event_replaces(screen: io.StringIO) -> None:
    progress = ui.Progress(live=True)
    for n in (1, 2, 3):
        progress.tokens("plan", n)
    progress.stage("generate", "2 files")
    drawn = screen.getvalue()
    assert drawn.count("\r\x1b[2K  writing: plan") == 3 and "plan 3 tokens" in drawn
    assert drawn.endswith("\r\x1b[2Kgenerate 2 files\n")  # erased, then the event line


def test_parallel_calls_of_one_stage_are_summed(screen: io.StringIO) -> None:
    progress = ui.Progress(live=True)
    progress.tokens("generate", 10)
    worker = threading.Thread(target=progress.tokens, args=("generate", 5))
    worker.start()
    worker.join()
    assert "generate 15 tokens" in screen.getvalue()


def test_no_live_line_when_quiet_or_not_on_a_terminal(screen: io.StringIO) -> None:
    ui.Progress(quiet=True, live=True).tokens("plan", 5)
    ui.Progress(live=False).tokens("plan", 5)
    ui.Progress().tokens("plan", 5)  # a StringIO is not a terminal
    assert screen.getvalue() == ""


def test_the_live_line_is_cleared_when_the_command_ends(screen: io.StringIO) -> None:
    with pytest.raises(RuntimeError), ui.live_progress() as progress:
        progress.live = True
        progress.tokens("debug", 7)
        raise RuntimeError("the command failed")
    assert screen.getvalue().endswith("debug 7 tokens\r\x1b[2K")


def test_a_round_shows_its_failing_tests_and_diagnosis(screen: io.StringIO) -> None:
    from healer.models import CheckResult, Failure, Round

    failures = [Failure(check="pytest", message=f"test_calc.py::test_{n}[x] failed: assert 0")
                for n in ("add", "mul", "div", "sub")]
    acceptance = CheckResult(name="acceptance", passed=False, tests_passed=1, tests_total=5,
                             failures=failures)
    ui.Progress().round_done(Round(index=2, checks=[acceptance], strategy="repair",
                                   diagnosis="add subtracts\nmore"))
    shown = screen.getvalue()
    assert "acceptance tests 1 of 5" in shown
    assert "failing tests: test_calc.py::test_add[x], test_calc.py::test_mul[x], " \
           "test_calc.py::test_div[x] and 1 more" in shown
    assert "diagnosis: add subtracts\n" in shown
