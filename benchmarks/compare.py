"""Two healers on the same specs, in one run on one machine: an earlier commit against this one.

Both commits are checked out in git worktrees (so editing the repository while it runs
changes neither arm). Spec by spec, each arm builds the spec
with its own `python -m benchmarks run` (so each arm is the healer of its commit, benchmark
runner included), alternating which arm goes first. Both use the bundled model with the same
settings, one build at a time.

What each arm's calls cost the model server is read from the server's own log (llama.cpp
prints the prompt tokens it evaluated for every task), so the prompt tokens evaluated are
counted the same way for a healer that does not count them itself.

    python -m benchmarks compare --before COMMIT [--after COMMIT] --only SPEC ... --out DIR

Re-running the same command resumes: specs an arm has recorded are not built again, and the
server logs of a build stopped midway are dropped (they count for no recorded spec).

With `--shared-cache` both arms answer from one response cache and the before arm always
builds first, so every call the after arm makes as the before arm did (the same prompt and
sampling) gets the same answer: the arms differ only where their settings make them differ,
not by sampling noise. Their wall times are then not comparable (repeated calls are free);
the tests they pass are. The candidates of each repair round are listed from the builds'
reports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from benchmarks.cases import EXERCISM_ENV, REPO_ROOT, default_exercism_dir
from benchmarks.record import SpecResult, pass_rate_curve
from benchmarks.summary import PLOT_PNG, plot_curves

EVALUATED = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")


@dataclass(frozen=True)
class Arm:
    name: str
    root: Path  # the repository the arm's healer runs from
    out: Path  # its benchmark results
    cache: Path  # its HEALER_CACHE_DIR: response cache (unused), server logs
    env: dict[str, str]  # settings of this arm, as HEALER_<NAME> variables

    @property
    def kept_logs(self) -> Path:
        return self.out / "server-logs"


def worktree(commit: str, where: Path) -> Path:
    if not (where / ".git").exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(where), commit],
                       cwd=REPO_ROOT, check=True)
    return where


SPEC_MARK = "--"  # a kept log is named `<spec>--local-server-<port>.log`


def _keep_logs(arm: Arm, spec: str, stop: threading.Event) -> None:
    """Hard-link each server log as it appears, named after the spec being built: the server
    deletes its log when it stops."""
    source = arm.cache / "logs"
    arm.kept_logs.mkdir(parents=True, exist_ok=True)
    while not stop.wait(0.5):
        for log in source.glob("local-server-*.log") if source.is_dir() else []:
            target = arm.kept_logs / f"{spec}{SPEC_MARK}{log.name}"
            if not target.exists():
                try:
                    os.link(log, target)
                except OSError:
                    pass


def _log_spec(log: Path) -> str | None:
    """The spec a kept log was written for; None for a log kept before logs were named."""
    spec, mark, _ = log.name.partition(SPEC_MARK)
    return spec if mark else None


def drop_unrecorded_logs(arm: Arm) -> None:
    """The kept logs of builds that recorded nothing (stopped midway) removed, and the logs a
    stopped build's server left in the arm's folder too (the next build would keep them as
    its own): what the evaluated tokens count is what the recorded builds evaluated."""
    recorded = {r["name"] for r in _records(arm)}
    for log in arm.kept_logs.glob("*.log") if arm.kept_logs.is_dir() else []:
        if _log_spec(log) not in (None, *recorded):
            log.unlink()
    source = arm.cache / "logs"
    for log in source.glob("local-server-*.log") if source.is_dir() else []:
        log.unlink()


def _share_weights(arm: Arm) -> None:
    """The arm's cache folder uses the assembled model weights of the user's cache (made
    there first on a machine that has none yet, so the link never dangles)."""
    from healer.config import default_cache_dir

    shared = default_cache_dir() / "models"
    shared.mkdir(parents=True, exist_ok=True)
    models = arm.cache / "models"
    if not models.is_symlink() and not models.exists():
        arm.cache.mkdir(parents=True, exist_ok=True)
        models.symlink_to(shared)


def build(arm: Arm, spec: str, run_args: list[str]) -> int:
    _share_weights(arm)
    run_args = [*run_args, "--work", str(arm.cache / "work")]
    env = {**os.environ, **arm.env, "HEALER_CACHE_DIR": str(arm.cache),
           EXERCISM_ENV: str(default_exercism_dir())}  # a worktree has no ../shared
    command = [sys.executable, "-m", "benchmarks", "run", "--suite", "all", "--only", spec,
               "--workers", "1", "--out", str(arm.out), *run_args]
    drop_unrecorded_logs(arm)
    stop = threading.Event()
    keeper = threading.Thread(target=_keep_logs, args=(arm, spec, stop), daemon=True)
    keeper.start()
    try:
        print(f"[{arm.name}] {spec}", flush=True)
        return subprocess.run(command, cwd=arm.root, env=env, check=False).returncode
    finally:
        stop.set()
        keeper.join()
        drop_unrecorded_logs(arm)


def evaluated_tokens(arm: Arm) -> int:
    """Prompt tokens the server evaluated for the specs the arm has recorded."""
    recorded = {r["name"] for r in _records(arm)}
    return sum(int(m.group(1)) for log in arm.kept_logs.glob("*.log")
               if _log_spec(log) in (None, *recorded)
               for m in EVALUATED.finditer(log.read_text(errors="replace")))


def _records(arm: Arm) -> list[dict]:
    path = arm.out / "results.json"
    return list(json.loads(path.read_text())["results"].values()) if path.is_file() else []


def summary(arms: list[Arm], command: str) -> str:
    lines = [f"# Before and after, one machine\n\n```\n{command}\n```\n",
             ("| arm | specs | green | acceptance tests passed | median wall s | prompt tokens sent "
              "| evaluated (server log) | evaluated / sent | cached, as healer counted "
              "| tokens written |"),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for arm in arms:
        rows = _records(arm)
        sent = sum(r.get("prompt_tokens", 0) for r in rows)
        written = sum(r.get("completion_tokens", 0) for r in rows)
        evaluated = evaluated_tokens(arm)
        walls = [r.get("wall_seconds", 0.0) for r in rows]
        green = sum(1 for r in rows if r.get("status") == "green")
        counted = (f"{sum(r['prompt_cached_tokens'] for r in rows):,}"
                   if rows and all("prompt_cached_tokens" in r for r in rows) else "not counted")
        ratio = f"{evaluated / sent:.0%}" if sent else "-"
        tests = (f"{sum(r['tests_passed_at'][-1] for r in rows if r['tests_passed_at'])}/"
                 f"{sum(r.get('tests_total') or 0 for r in rows)}"
                 if rows and all(r.get("tests_passed_at") for r in rows) else "not recorded")
        lines.append(f"| {arm.name} | {len(rows)} | {green} | {tests} | "
                     f"{statistics.median(walls) if walls else 0:.0f} | {sent:,} | {evaluated:,} "
                     f"| {ratio} | {counted} | {written:,} |")
    lines += ["", "| spec | " + " | ".join(f"{a.name} status | tests passed | wall s"
                                           for a in arms)
              + " |", "|---|" + "---|---:|---:|" * len(arms)]
    by_arm = [{r["name"]: r for r in _records(a)} for a in arms]
    for name in sorted(set().union(*by_arm)):
        cells = []
        for rows in by_arm:
            r = rows.get(name)
            tests = (f"{r['tests_passed_at'][-1]}/{r.get('tests_total')}"
                     if r and r.get("tests_passed_at") and r.get("tests_total") else "-")
            if r is None:
                cells += ["-"] * 3
                continue
            failing = r.get("failing_checks")
            status = r["status"] + (f" ({', '.join(failing)})" if failing else "")
            cells += [status, tests, f"{r.get('wall_seconds', 0):.0f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    rounds, _, _ = by_round(arms)
    if rounds:
        lines += ["", "## By round", "", *rounds, "", f"![specs green by round]({PLOT_PNG})"]
    return "\n".join(lines) + "\n"


def by_round(arms: list[Arm]) -> tuple[list[str], dict[str, list[float]], int]:
    """Green and acceptance tests passed after each round, per arm, over the specs every arm
    has recorded (so a comparison stopped midway compares like with like); the lines of the
    table, each arm's share of specs green by round, and how many specs that is."""
    records = [{r["name"]: SpecResult.model_validate(r) for r in _records(a)} for a in arms]
    common = sorted(set.intersection(*(set(r) for r in records))) if records else []
    if not common:
        return [], {}, 0
    rounds = max(len(rows[name].green_at) for rows in records for name in common)

    def at(values: list, k: int):
        return values[min(k, len(values) - 1)] if values else 0

    lines = [f"Over the {len(common)} specs both arms built:", "",
             "| round | " + " | ".join(f"{a.name} green | tests passed" for a in arms) + " |",
             "|---|" + "---:|---:|" * len(arms)]
    for k in range(rounds):
        cells = []
        for rows in records:
            specs = [rows[name] for name in common]
            green = sum(1 for r in specs if at(r.green_at, k))
            passed = sum(at(r.tests_passed_at, k) for r in specs)
            total = sum(r.tests_total or 0 for r in specs)
            cells += [f"{green}/{len(specs)}", f"{passed}/{total}"]
        lines.append(f"| {'0 (one-shot)' if k == 0 else k} | " + " | ".join(cells) + " |")
    curves = {a.name: pass_rate_curve([rows[name] for name in common])
              for a, rows in zip(arms, records, strict=True)}
    return lines, curves, len(common)


def keep_reports(arm: Arm) -> None:
    """Each build's `report.json` copied into the arm's results, so its rounds' candidates
    outlive the scratch folder (and a comparison resumed on another machine lists them)."""
    kept = arm.out / "reports"
    for report in (arm.cache / "work" / "builds").glob("*/.healer/report.json"):
        kept.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report, kept / f"{report.parent.parent.name}.json")


def round_candidates(arm: Arm) -> list[str]:
    """Per spec and round (round 0 when it held more than one candidate): each candidate's
    strategy, acceptance tests, and the one kept."""
    lines = []
    for report in sorted((arm.out / "reports").glob("*.json")):
        rounds = json.loads(report.read_text()).get("rounds", [])
        for rnd in rounds:
            tried = ", ".join(
                c["strategy"] + (f" {c.get('tests_passed')}/{c.get('tests_total')}"
                                 if c["status"] == "checked" else f" ({c['status']})")
                + (" kept" if c.get("kept") else "")
                for c in rnd.get("candidates", []))
            if len(rnd.get("candidates", [])) < (2 if rnd["index"] == 0 else 1):
                continue  # a round of one candidate's chain, or round 0 of one
            lines.append(f"| {report.stem} | {rnd['index']} | {tried or '-'} |")
    return lines


def resolve(commit: str) -> str:
    return subprocess.run(["git", "rev-parse", commit], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True).stdout.strip()


def main(before: str, after: str, specs: list[str], out: Path, run_args: list[str],
         command: str, envs: tuple[dict[str, str], dict[str, str]] = ({}, {}), *,
         shared_cache: bool = False, keep_builds: bool = False,
         report_only: bool = False) -> str:
    """The comparison's README (and plot), after building what the arms have not recorded
    yet; with `report_only`, from what they have, building nothing and keeping the builds."""
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    arms = []
    for (name, commit), env in zip((("before", resolve(before)), ("after", resolve(after))),
                                   envs, strict=True):
        root = worktree(commit, scratch / f"healer-{commit[:12]}")
        label = " ".join([f"{name} ({commit[:7]})", *(f"{k}={v}" for k, v in env.items())])
        arms.append(Arm(label, root, out / name, scratch / f"healer-compare-{name}", env))
    if shared_cache:
        run_args = [*run_args, "--cache"]
        _share_responses(*arms)
    for i, spec in enumerate(specs):
        for arm in arms if i % 2 == 0 or shared_cache else arms[::-1]:
            if not report_only and not any(r["name"] == spec for r in _records(arm)):
                build(arm, spec, run_args)
            keep_reports(arm)
        text = _with_candidates(summary(arms, command),
                                {arm.name: round_candidates(arm) for arm in arms})
        (out / "README.md").write_text(text)
        _, curves, common = by_round(arms)
        plot_curves(curves, common, out / PLOT_PNG, "specs green by round")
    for arm in arms:
        clean(arm, keep_builds=keep_builds or report_only)
    return text


def clean(arm: Arm, *, keep_builds: bool = False) -> None:
    """The arm's scratch folder removed (its response cache and links to weights are not
    results); with `keep_builds`, its builds stay, under `work/`, for later study."""
    if not keep_builds:
        shutil.rmtree(arm.cache, ignore_errors=True)
        return
    for entry in arm.cache.iterdir() if arm.cache.is_dir() else []:
        if entry.name == "work":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    print(f"{arm.name}: builds kept in {arm.cache / 'work' / 'builds'}")


def _share_responses(first: Arm, second: Arm) -> None:
    """The second arm's response cache is the first one's."""
    from healer.llm.cache import FILE_NAME

    for arm in (first, second):
        arm.cache.mkdir(parents=True, exist_ok=True)
    target = second.cache / FILE_NAME
    if not target.is_symlink():
        target.unlink(missing_ok=True)
        target.symlink_to(first.cache / FILE_NAME)


def _with_candidates(text: str, candidates: dict[str, list[str]]) -> str:
    for name, rows in candidates.items():
        if rows:
            text += (f"\n## Candidates of {name}\n\n| spec | round | candidates: strategy, "
                     "acceptance tests |\n|---|---:|---|\n" + "\n".join(rows) + "\n")
    return text
