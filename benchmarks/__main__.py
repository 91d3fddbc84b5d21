"""Command line of the benchmarks: `python -m benchmarks run ...` and `... orchestration`."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path

from benchmarks.cases import REPO_ROOT, SUITES, default_exercism_dir, discover, select
from benchmarks.record import ResultsFile, SpecResult
from benchmarks.runner import pending, run_cases
from benchmarks.summary import RESULTS_MD, write_outputs
from healer.budget import Budget
from healer.config import Settings, load_settings
from healer.llm.local_server import MODEL_ALIAS

DEFAULT_OUT = REPO_ROOT / "benchmarks" / "results" / "latest"


def _run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="build benchmark specs and record how often they get green")
    p.add_argument("--suite", choices=SUITES, default="exercism")
    p.add_argument("--only", nargs="+", action="extend", metavar="NAME", help="only these specs")
    p.add_argument("--skip", nargs="+", action="extend", metavar="NAME", help="leave these out")
    p.add_argument("--difficulty-max", type=int, help="Exercism difficulty at most N")
    p.add_argument("--limit", type=int, help="the first N specs, easiest first")
    p.add_argument("--workers", type=int, default=2, help="builds at the same time")
    p.add_argument("--max-iters", type=int, default=3, help="repair rounds per spec")
    p.add_argument("--timeout", type=float, help="wall-time budget per spec, seconds")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder of this run")
    p.add_argument("--work", type=Path, help="where specs and builds go (default: a temp folder)")
    p.add_argument("--exercism-dir", type=Path, default=None,
                   help="Exercism exercises (default: $HEALER_EXERCISM_DIR or "
                        "../shared/benchmarks/exercism beside the repository)")
    p.add_argument("--base-url", help="an OpenAI-compatible endpoint instead of the local model")
    p.add_argument("--model", help="model name at that endpoint")
    p.add_argument("--local-threads", type=int,
                   help="CPU threads of the bundled model's server (fewer on a shared machine)")
    p.add_argument("--request-timeout", type=float, help="seconds one model call may take")
    p.add_argument("--sandbox-host", action="append", metavar="URL",
                   help="a Docker engine to spread the checks over (repeat for several)")
    p.add_argument("--cache", action="store_true",
                   help="answer repeated prompts from healer's response cache (off: every call "
                        "is measured)")
    p.add_argument("--force", action="store_true", help="rebuild specs already recorded")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _run_parser(sub)
    rep = sub.add_parser("report", help="rewrite results.md and pass_rate.png from results.json")
    rep.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder of a run")
    rep.add_argument("--note", action="append", default=[], help="a line to add under the title")
    orch = sub.add_parser("orchestration", help="parallel generation, cache and sandbox figures")
    orch.add_argument("--delay", type=float, default=0.3, help="scripted answer delay, seconds")
    orch.add_argument("--out", type=Path,
                      default=REPO_ROOT / "benchmarks" / "results" / "orchestration.md")
    fuzzy = sub.add_parser("fuzzy-margins", help="wrong-place rate of fuzzy SEARCH matches")
    fuzzy.add_argument("--files", type=int, default=300, help="standard-library files to sample")
    fuzzy.add_argument("--seed", type=int, default=1)
    fuzzy.add_argument("--out", type=Path,
                       default=REPO_ROOT / "benchmarks" / "results" / "fuzzy_margins.md")
    deadline = sub.add_parser("deadline", help="how far past --timeout a hung build stops")
    deadline.add_argument("--timeouts", type=float, nargs="+", default=[10.0, 30.0])
    deadline.add_argument("--out", type=Path,
                          default=REPO_ROOT / "benchmarks" / "results" / "deadline.md")
    tamper = sub.add_parser("tamper", help="attempts to fake green and what each one gets")
    tamper.add_argument("--out", type=Path,
                        default=REPO_ROOT / "benchmarks" / "results" / "tamper.md")
    compare = sub.add_parser("compare", help="an earlier commit against this one, same specs")
    compare.add_argument("--before", required=True, help="the earlier commit")
    compare.add_argument("--after", default="HEAD", help="the later commit (default: HEAD)")
    compare.add_argument("--before-env", nargs="+", default=[], metavar="HEALER_NAME=VALUE",
                         help="settings of the before arm")
    compare.add_argument("--after-env", nargs="+", default=[], metavar="HEALER_NAME=VALUE",
                         help="settings of the after arm")
    compare.add_argument("--only", nargs="+", required=True, metavar="NAME", help="the specs")
    compare.add_argument("--out", type=Path, required=True, help="results folder")
    compare.add_argument("--max-iters", type=int, default=3)
    compare.add_argument("--timeout", type=float, help="wall-time budget per spec, seconds")
    compare.add_argument("--request-timeout", type=float, default=1800.0)
    compare.add_argument("--shared-cache", action="store_true",
                         help="one response cache, the before arm first: calls the arms make "
                              "alike get one answer, so they differ only by their settings")
    compare.add_argument("--keep-builds", action="store_true",
                         help="keep the arms' build folders (in the temp folder) when done, "
                              "for example for `splice`")
    compare.add_argument("--report-only", action="store_true",
                         help="rewrite README.md and the plot from what the arms recorded, "
                              "building nothing (the command shown is the one without it)")
    splice = sub.add_parser("splice", help="whether splicing two versions of finished builds "
                                           "passes more tests than each")
    splice.add_argument("builds", nargs="+", type=Path, help="build folders")
    splice.add_argument("--out", type=Path, required=True, help="the Markdown table")
    server = sub.add_parser("server-settings",
                            help="prompt reuse and speculative decoding of the bundled server")
    server.add_argument("--exercise", default="clock", help="the Exercism exercise to use")
    server.add_argument("--only", nargs="+", help="configurations whose name holds one of these")
    server.add_argument("--exercism-dir", type=Path, default=None)
    server.add_argument("--out", type=Path,
                        default=REPO_ROOT / "benchmarks" / "results" / "server_settings.md")
    speed = sub.add_parser("throughput", help="the bundled model's speed, 1 to 8 sequences at once")
    speed.add_argument("--exercise", default="clock", help="the Exercism exercise to use")
    speed.add_argument("--exercism-dir", type=Path, default=None)
    speed.add_argument("--out", type=Path,
                       default=REPO_ROOT / "benchmarks" / "results" / "throughput.md")
    return parser.parse_args(argv)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(None, base_url=args.base_url, model=args.model, cache=args.cache,
                         local_threads=args.local_threads, request_timeout=args.request_timeout,
                         sandbox_hosts=getattr(args, "sandbox_host", None))


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _meta(args: argparse.Namespace, argv: list[str], settings: Settings, planned: list[str],
          skipped: list[dict], previous: dict) -> dict:
    local = settings.uses_local_model
    command = "python -m benchmarks " + shlex.join(argv)
    earlier = previous.get("invocations") or ([previous["command"]] if "command" in previous else [])
    return {
        "run": args.out.name,
        # The latest plain command (no --only, no --force) defines the run: it reproduces the
        # run and resumes it. Re-runs of chosen specs are listed in `invocations`.
        "command": previous.get("command", command) if args.only or args.force else command,
        "invocations": [*earlier, command],
        "model": f"{MODEL_ALIAS} (bundled, Q4_K_M, llama.cpp)" if local else settings.model,
        "endpoint": f"bundled local model, one server for the whole run, "
        f"{settings.local_threads} CPU thread(s)" if local
        else settings.base_url,
        "max_iters": args.max_iters,
        "workers": args.workers,
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        "planned": list(dict.fromkeys([*previous.get("planned", []), *planned])),
        "skipped": skipped,
        "notes": previous.get("notes", []),
    }


def _print_result(result: SpecResult, done: int, total: int) -> None:
    mark = f"green at round {result.green_at.index(True)}" if result.green else result.status
    extra = f": {result.error[:160]}" if result.error else ""
    print(f"[{done}/{total}] {result.name}: {mark} ({result.wall_seconds:.0f} s, "
          f"{result.prompt_tokens + result.completion_tokens} tokens){extra}", flush=True)


def command_run(args: argparse.Namespace, argv: list[str]) -> int:
    exercism = args.exercism_dir or default_exercism_dir()
    found, skipped = discover(args.suite, exercism)
    if args.suite in ("exercism", "all") and not any(c.suite == "exercism" for c in found):
        print(f"no Exercism exercises found in {exercism}", file=sys.stderr)
    cases = select(found, only=args.only, skip=args.skip, difficulty_max=args.difficulty_max,
                   limit=args.limit)
    if not cases:
        print("no specs selected", file=sys.stderr)
        return 2
    settings = _settings(args)
    budget = Budget(max_iters=args.max_iters, timeout=args.timeout)
    results = ResultsFile(args.out)
    results.meta = _meta(args, argv, settings, [c.name for c in cases],
                         [{"name": s.name, "reason": s.reason} for s in skipped], results.meta)
    results.save()
    work = args.work or Path(tempfile.gettempdir()) / "healer-bench" / args.out.name
    todo = pending(cases, results, args.force)
    print(f"{len(cases)} specs selected, {len(todo)} to build, {args.workers} at a time; "
          f"builds in {work}", flush=True)
    try:
        run_cases(cases, settings=settings, budget=budget, results=results, work=work,
                  workers=args.workers, force=args.force, progress=_print_result)
    finally:
        write_outputs(args.out, list(results.results.values()), results.meta)
    print(f"results: {_relative(args.out / RESULTS_MD)}")
    return 0


def command_report(args: argparse.Namespace) -> int:
    results = ResultsFile(args.out)
    if not results.path.is_file():
        print(f"no results in {args.out}", file=sys.stderr)
        return 2
    results.meta = {**results.meta, "notes": [*results.meta.get("notes", []), *args.note]}
    results.save()
    write_outputs(args.out, list(results.results.values()), results.meta)
    print(f"results: {_relative(args.out / RESULTS_MD)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "run":
        return command_run(args, argv)
    if args.command == "report":
        return command_report(args)
    if args.command == "deadline":
        from benchmarks.deadline import main as deadline

        text = deadline(args.timeouts)
        command = "python -m benchmarks " + shlex.join(argv)
        args.out.write_text(f"# Deadline\n\n`{command}`\n\n{text}\n")
        print(text)
        return 0
    if args.command == "tamper":
        from benchmarks.tamper import main as tamper

        text = tamper()
        command = "python -m benchmarks " + shlex.join(argv)
        args.out.write_text(f"# Attempts to fake green\n\n`{command}`\n\n{text}\n")
        print(text)
        return 0
    if args.command == "compare":
        from benchmarks.compare import main as compare

        run_args = ["--max-iters", str(args.max_iters), "--request-timeout",
                    str(args.request_timeout)]
        if args.timeout:
            run_args += ["--timeout", str(args.timeout)]
        envs = tuple(dict(item.split("=", 1) for item in items)
                     for items in (args.before_env, args.after_env))
        shown = [a for a in argv if a != "--report-only"]
        print(compare(args.before, args.after, args.only, args.out, run_args,
                      "python -m benchmarks " + shlex.join(shown), envs,
                      shared_cache=args.shared_cache, keep_builds=args.keep_builds,
                      report_only=args.report_only))
        return 0
    if args.command == "splice":
        from benchmarks.splice import measure, table

        with tempfile.TemporaryDirectory(prefix="healer-splice-") as work:
            rows = [row for build in args.builds for row in measure(build, Path(work))]
        text = table(rows)
        command = "python -m benchmarks " + shlex.join(argv)
        args.out.write_text(f"# Splicing two versions\n\n`{command}`\n\n{text}\n")
        print(text)
        return 0
    if args.command == "throughput":
        from benchmarks.throughput import main as throughput

        folder = (args.exercism_dir or default_exercism_dir()) / args.exercise
        print(throughput(folder, args.out, "python -m benchmarks throughput "
                         f"--exercise {args.exercise}"))
        return 0
    if args.command == "server-settings":
        from benchmarks.server_settings import main as server_settings

        folder = (args.exercism_dir or default_exercism_dir()) / args.exercise
        server_settings(folder, args.out, args.only)
        return 0
    if args.command == "fuzzy-margins":
        from benchmarks.fuzzy_margins import main as fuzzy_margins

        text = fuzzy_margins(files=args.files, seed=args.seed)
        command = "python -m benchmarks " + shlex.join(argv)
        args.out.write_text(f"# Fuzzy SEARCH matches\n\n`{command}`\n\n{text}\n")
        print(text)
        return 0
    from benchmarks.orchestration import main as orchestration

    return orchestration(delay=args.delay, out=args.out)


if __name__ == "__main__":
    sys.exit(main())
