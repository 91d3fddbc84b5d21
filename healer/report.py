"""The run report: `.healer/report.json` for machines and `.healer/report.md` for people."""

from __future__ import annotations

import logging

from healer.models import Candidate, Round, RunReport

log = logging.getLogger(__name__)


def report_data(report: RunReport) -> dict:
    """What `report.json` holds (and `healer build --json` prints): the report and its total
    usage."""
    data = report.model_dump(mode="json")
    data["usage"] = report.usage.model_dump(mode="json")
    return data


def render_markdown(report: RunReport) -> str:
    usage = report.usage
    cost = f"${usage.cost_usd:.4f}" if usage.cost_usd is not None else "unknown"
    lines = [
        "# healer run report",
        "",
        f"- status: **{outcome(report)}** ({report.stop_reason})",
        f"- spec: `{report.spec}`",
        f"- output: `{report.output}`",
        f"- best round: {report.best_round if report.best_round is not None else '-'}",
        f"- model: `{report.model or '?'}`; sandbox: {report.sandbox or '?'}",
        (f"- tokens: {usage.prompt_tokens} in ({usage.prompt_cached_tokens} served from the "
         f"endpoint's prompt cache, {usage.prompt_evaluated_tokens} evaluated), "
         f"{usage.completion_tokens} out ({usage.calls} calls, {usage.cached_calls} from "
         f"healer's cache); cost: {cost}"),
        f"- wall time: {report.seconds:.1f}s",
        "",
        ("| round | strategy | acceptance tests passed | failing checks | files changed | tokens "
        "| time |"),
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_round_row(r) for r in report.rounds]
    for rnd in report.rounds:
        lines += _round_details(rnd)
    return "\n".join(lines) + "\n"


def outcome(report: RunReport) -> str:
    """The status as a user should read it: green says what it rests on."""
    if report.status != "green":
        return report.status
    if report.evidence == "model tests":
        return "green against tests written by the model"
    if report.evidence == "no tests":
        return "green without tests (no acceptance tests, and the model wrote none)"
    return "green"


def acceptance_cell(rnd: Round) -> str:
    check = rnd.acceptance
    if check is None:
        return "-"
    return f"{check.tests_passed or 0} of {check.tests_total}"


def _round_row(rnd: Round) -> str:
    failing = ", ".join(rnd.failing) if rnd.checks else "(not checked)"
    files = ", ".join(rnd.files_changed[:6]) + (" ..." if len(rnd.files_changed) > 6 else "")
    return (f"| {rnd.index} | {rnd.strategy} | {acceptance_cell(rnd)} | {failing or 'none'} | "
            f"{files or '-'} | {rnd.usage.total_tokens} | {rnd.seconds:.1f}s |")


def _candidate_row(c: Candidate) -> str:
    tests = f"{c.tests_passed} of {c.tests_total}" if c.tests_total is not None else "-"
    failing = ", ".join(c.failing) or ("none" if c.status == "checked" else "-")
    state = "kept" if c.kept else (c.note or c.status if c.status != "checked" else "")
    return (f"| {c.number} | {c.how} | `{c.branch}` | {tests} | {failing} | {c.usage.total_tokens} | "
            f"{c.seconds:.1f}s | {state} |")


def _round_details(rnd: Round) -> list[str]:
    out = ["", f"## Round {rnd.index} ({rnd.strategy})"]
    if rnd.acceptance is not None:
        out.append(f"acceptance tests passed: {acceptance_cell(rnd)}")
    if rnd.diagnosis:
        out.append(f"Diagnosis: {rnd.diagnosis}")
    if rnd.screenshot:
        out.append(f"Popup: [screenshot]({rnd.screenshot})")
    if rnd.cut:
        out.append("The budget ran out before every candidate was checked; a resumed build"
                   " checks the rest.")
    if rnd.candidates:
        out += ["", ("| candidate | strategy | branch | acceptance tests passed | failing checks "
                "| tokens | time | |"), "|---|---|---|---|---|---|---|---|"]
        out += [_candidate_row(c) for c in rnd.candidates]
        out.append("")
    for failure in rnd.failures[:10]:
        where = failure.file or "?"
        if failure.line:
            where += f":{failure.line}"
        out.append(f"- `{failure.check}` {where}: {failure.message.strip().splitlines()[0][:200] if failure.message.strip() else ''}")
    return out


def evidence_of(has_acceptance_tests: bool, best: Round | None) -> str:
    """What a green result rests on: the user's acceptance tests, the model's, or neither."""
    if has_acceptance_tests:
        return "acceptance"
    if best is not None and "pytest" in best.passing:
        return "model tests"
    return "no tests"
