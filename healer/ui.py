"""Terminal output for the CLI: live progress and result tables (rich), or nothing."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from healer.models import CheckResult, Round, RunReport
from healer.report import acceptance_cell, outcome

console = Console(stderr=True, highlight=False)


class Progress:
    """Renders pipeline events as one line each on stderr; silent when quiet."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet

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

    def _say(self, text: str) -> None:
        if not self.quiet:
            console.print(text)


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
