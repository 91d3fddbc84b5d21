"""Terminal output for the CLI: live progress and result tables (rich), or nothing."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from healer.models import CheckResult, Round, RunReport
from healer.report import acceptance_cell, outcome

console = Console(stderr=True, highlight=False)


SHOWN_TESTS = 3
LIVE_INTERVAL = 0.25  # seconds between redraws of the live token line


class Progress:
    """Renders pipeline events as one line each on stderr; silent when quiet.

    On a terminal, the tokens of the answers being written show on one live line below, which
    the next event line replaces; `clear()` removes it when the command is done.
    """

    def __init__(self, *, quiet: bool = False, live: bool | None = None) -> None:
        self.quiet = quiet
        self.live = console.is_terminal if live is None else live
        self._writing: dict[tuple[str, int], int] = {}  # (stage, thread) -> tokens so far
        self._lock = threading.Lock()
        self._drawn_at = 0.0
        self._shown = False

    def tokens(self, stage: str, count: int) -> None:
        if self.quiet or not self.live:
            return
        with self._lock:
            self._writing[(stage, threading.get_ident())] = count
            now = time.monotonic()
            if now - self._drawn_at < LIVE_INTERVAL:
                return
            self._drawn_at = now
            by_stage: dict[str, int] = {}
            for (name, _), n in self._writing.items():
                by_stage[name] = by_stage.get(name, 0) + n
            line = ", ".join(f"{name} {n} tokens" for name, n in by_stage.items())
            console.file.write(f"\r\x1b[2K  writing: {line}")
            console.file.flush()
            self._shown = True

    def clear(self) -> None:
        """Remove the live token line, if one is drawn."""
        with self._lock:
            self._erase()

    def _erase(self) -> None:
        self._writing.clear()
        if self._shown:
            console.file.write("\r\x1b[2K")
            console.file.flush()
            self._shown = False

    def stage(self, name: str, detail: str = "") -> None:
        self._say(f"[bold cyan]{name}[/] {detail}")

    def file_done(self, path: str, done: int, total: int) -> None:
        self._say(f"  [green]✓[/] {path} [dim]({done}/{total})[/]")

    def round_done(self, round: Round) -> None:
        passed = len(round.passing)
        spent = f"[dim]{round.usage.total_tokens} tokens, {round.seconds:.0f}s[/]"
        tests = ""
        if round.acceptance is not None:
            tests = f"acceptance tests {round.acceptance.tests_passed or 0} of " \
                    f"{round.acceptance.tests_total}; "
        if round.green:
            self._say(f"  round {round.index}: [bold green]{tests}all {passed} checks pass[/] "
                      f"{spent}")
        else:
            self._say(f"  round {round.index}: {tests}[bold red]{len(round.failing)} failing[/] "
                      f"({', '.join(round.failing)}), {passed} passing {spent}")
            names = failing_tests(round)
            if names:
                more = f" and {len(names) - SHOWN_TESTS} more" if len(names) > SHOWN_TESTS else ""
                self._say(f"    failing tests: {escape(', '.join(names[:SHOWN_TESTS]))}{more}")
        if round.diagnosis:
            self._say(f"    [dim]diagnosis: {escape(round.diagnosis.splitlines()[0][:160])}[/]")

    def _say(self, text: str) -> None:
        if not self.quiet:
            with self._lock:
                self._erase()
                console.print(text)


def failing_tests(rnd: Round) -> list[str]:
    """The acceptance tests a round failed, by id, from its failure records."""
    check = rnd.acceptance
    if check is None:
        return []
    ids = [f.message.split(" ", 1)[0] for f in check.failures]
    return list(dict.fromkeys(i for i in ids if "::" in i))


@contextlib.contextmanager
def live_progress(*, quiet: bool = False) -> Iterator[Progress]:
    """A `Progress` whose live line is gone when the command ends, however it ends."""
    progress = Progress(quiet=quiet)
    try:
        yield progress
    finally:
        progress.clear()


def checks_table(results: list[CheckResult]) -> Table:
    table = Table(title="checks")
    for col in ("check", "result", "time", "first failure"):
        table.add_column(col)
    for r in results:
        verdict = "[dim]skipped[/]" if r.skipped else "[green]pass[/]" if r.passed else "[red]FAIL[/]"
        first = ""
        if r.failures:
            f = r.failures[0]
            where = f"{f.file}:{f.line}" if f.line else (f.file or "")
            first = f"{where} {f.message.strip().splitlines()[0][:80] if f.message.strip() else ''}"
        table.add_row(r.name, verdict, f"{r.duration:.1f}s", first)
    return table


def report_table(report: RunReport) -> Table:
    table = Table(title=f"healer: {outcome(report)} ({report.stop_reason})")
    for col in ("round", "strategy", "acceptance", "failing", "files changed", "tokens", "time"):
        table.add_column(col)
    for r in report.rounds:
        best = " *" if r.index == report.best_round else ""
        table.add_row(f"{r.index}{best}", r.strategy, acceptance_cell(r),
                      ", ".join(r.failing) or "-",
                      ", ".join(r.files_changed[:4]) or "-", str(r.usage.total_tokens),
                      f"{r.seconds:.1f}s")
    return table
