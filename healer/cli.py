"""The `healer` command: thin wrappers over the library; errors become messages in one place."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from healer import __version__
from healer.budget import Budget
from healer.config import Settings, load_settings
from healer.errors import HealerError, UsageError
from healer.models import RunReport, verdict
from healer.report import outcome, report_data
from healer.ui import checks_table, console, live_progress, report_table

EXIT_GREEN, EXIT_NOT_GREEN, EXIT_USAGE, EXIT_INFRA = 0, 1, 2, 3


VERBOSE_FLAGS = ("-v", "-vv", "--verbose")
QUIET_FLAGS = ("-q", "--quiet")


class HealerGroup(click.Group):
    """Turns healer's errors into one clear message and an exit code, in one place; takes `-v`
    anywhere on the command line, and `-q` before the command as after it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:end] if a in VERBOSE_FLAGS]
        rest = [a for a in args[:end] if a not in VERBOSE_FLAGS] + args[end:]
        command = next((i for i, a in enumerate(rest) if a in self.commands), None)
        if command is not None:  # `healer -q build ...` is `healer build -q ...`
            quiet = [a for a in rest[:command] if a in QUIET_FLAGS]
            before = [a for a in rest[:command] if a not in QUIET_FLAGS]
            rest = [*before, rest[command], *quiet, *rest[command + 1:]]
        return super().parse_args(ctx, [*flags, *rest])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HealerError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            ctx.exit(exc.exit_code)
        except RecursionError:  # a folder (or a file) nested hundreds of levels deep
            logging.getLogger(__name__).debug("recursion without end", exc_info=True)
            deep = UsageError("the folder is nested too deeply for healer to walk (hundreds "
                              "of folders inside each other)", hint="flatten it, or point "
                              "healer at a folder that holds only the project; if it is not "
                              "nested deeply, this is a bug in healer (-vv shows where)")
            console.print(f"[bold red]error:[/] {deep}")
            ctx.exit(deep.exit_code)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: run the same command again to resume[/]")
            ctx.exit(130)


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)  # a cancelled CI job stops like Ctrl-C
    # a job started in the background by a script inherits SIGINT ignored; Ctrl-C (or a
    # SIGINT from a supervisor) still stops healer cleanly
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cli(prog_name="healer")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def llm_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Endpoint options shared by every command that talks to a model."""
    options = [
        click.option("--model", help="Model name (env HEALER_MODEL)."),
        click.option("--base-url", help="OpenAI-compatible endpoint (env OPENAI_BASE_URL); "
                                        "none = the bundled local model."),
        click.option("--api-key", help="API key (env OPENAI_API_KEY)."),
        click.option("--concurrency", type=int, help="LLM calls in flight (default 8)."),
        click.option("--no-cache", "no_cache", is_flag=True, help="Ignore the response cache."),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), fn)


def budget_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The budget beyond --max-iters, shared by build and improve."""
    options = [
        click.option("--max-tokens", type=click.IntRange(1), help="Stop after this many tokens."),
        click.option("--max-cost", type=click.FloatRange(0), help="Stop after this many dollars."),
        click.option("--timeout", type=click.FloatRange(1), help="Stop after this many seconds."),
    ]
    return functools.reduce(lambda f, opt: opt(f), reversed(options), fn)


def settings_from(folder: Path | None, opts: dict[str, Any], *,
                  untrusted: Path | None = None) -> Settings:
    """Settings from the user's `folder`, the environment and the flags; `untrusted` is a
    folder being checked or debugged (see healer.config)."""
    flags = {k: opts.pop(k, None)
             for k in ("model", "base_url", "api_key", "concurrency", "candidates")}
    if opts.pop("no_cache", False):
        flags["cache"] = False
    return load_settings(folder, untrusted=untrusted, **flags)


def from_here(paths: tuple[str, ...]) -> list[str]:
    """`--tests` paths as the user typed them: relative to the current folder."""
    return [str(Path(p).resolve()) for p in paths]


ask_option = click.option("--ask", is_flag=True, help="Show each round's edits as a diff and "
                          "ask before keeping them (accept, reject, or type guidance).")


def reviewer(ask: bool):
    from healer.review import ask_in_terminal

    return ask_in_terminal if ask else None


def spec_folder(spec_arg: str) -> Path | None:
    path = Path(spec_arg)
    return path.parent if path.is_file() else None


def default_output(spec_arg: str) -> Path:
    path = Path(spec_arg)
    stem = path.stem if path.is_file() else "project"
    return Path("out") / stem


@click.group(cls=HealerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="healer")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Turn a Markdown spec into a working codebase, and repair it until its checks pass."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)  # also where logging was set up before (a library user)


@cli.command()
@click.argument("spec")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output folder.")
@click.option("--file", "only_file", help="Regenerate only this file from the saved plan.")
@click.option("--tests", multiple=True, help="Acceptance test file or folder (repeatable).")
@click.option("--into-existing", is_flag=True, help="Use an output folder healer did not create "
              "(on its own branch, keeping copies of replaced files).")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@llm_options
def generate(spec: str, output: Path | None, only_file: str | None, tests: tuple[str, ...],
             into_existing: bool, quiet: bool, as_json: bool, **opts: Any) -> None:
    """Generate a codebase from SPEC (a Markdown file or a prompt string)."""
    from healer.commands import run_generate

    settings = settings_from(spec_folder(spec), opts)
    with live_progress(quiet=quiet or as_json) as progress:
        result = run_generate(spec, output or default_output(spec), settings,
                              only_file=only_file, tests=from_here(tests), events=progress,
                              into_existing=into_existing)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif not quiet:
        console.print(f"[bold green]generated[/] {len(result['files'])} files in {result['output']}")


@cli.command()
@click.argument("spec")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output folder.")
@click.option("--max-iters", type=click.IntRange(0), default=5, show_default=True,
              help="Repair rounds after the first generation.")
@budget_options
@click.option("--tests", multiple=True, help="Acceptance test file or folder (repeatable).")
@click.option("--candidates", type=click.IntRange(1, 16),
              help="Write round 0 this many times, each on its own branch; keep the best.")
@click.option("--unsafe-local", is_flag=True, help="Run checks on this machine, unsandboxed.")
@click.option("--into-existing", is_flag=True, help="Use an output folder healer did not create "
              "(on its own branch, keeping copies of replaced files).")
@ask_option
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report on stdout.")
@llm_options
def build(spec: str, output: Path | None, max_iters: int, max_tokens: int | None,
          max_cost: float | None, timeout: float | None, tests: tuple[str, ...],
          candidates: int | None, unsafe_local: bool, into_existing: bool, ask: bool,
          quiet: bool, as_json: bool, **opts: Any) -> None:
    """Generate SPEC, run its checks in a sandbox and repair it until green or out of budget."""
    from healer.commands import run_build

    settings = settings_from(spec_folder(spec), {**opts, "candidates": candidates})
    budget = Budget(max_iters=max_iters, max_tokens=max_tokens, max_cost=max_cost, timeout=timeout)
    with live_progress(quiet=quiet or as_json) as progress:
        report = run_build(spec, output or default_output(spec), settings, budget,
                           tests=from_here(tests), unsafe_local=unsafe_local, events=progress,
                           into_existing=into_existing, review=reviewer(ask))
    _show_report(report, quiet=quiet, as_json=as_json)


def _show_report(report: RunReport, *, quiet: bool, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report_data(report), indent=2))
    elif not quiet:
        console.print(report_table(report))
        console.print(f"report: {Path(report.output) / '.healer' / 'report.md'}")
        console.print(f"[bold]{outcome(report)}[/] ({report.stop_reason})")
    sys.exit(EXIT_GREEN if report.status == "green" else EXIT_NOT_GREEN)


@cli.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Output folder.")
@click.option("--max-iters", type=click.IntRange(0), default=3, show_default=True,
              help="Repair rounds of each build.")
@click.option("--timeout", type=click.FloatRange(1), help="Seconds each build may take.")
@click.option("--tests", multiple=True, help="Acceptance test file or folder (repeatable).")
@click.option("--debounce", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Seconds the files must be still before a build starts.")
@click.option("--poll", type=click.FloatRange(0.05), default=0.5, show_default=True,
              help="Seconds between looks at the files.")
@click.option("--max-builds", type=click.IntRange(1), help="Stop after this many builds.")
@click.option("--unsafe-local", is_flag=True, help="Run checks on this machine, unsandboxed.")
@llm_options
def watch(spec: str, output: Path | None, max_iters: int, timeout: float | None,
          tests: tuple[str, ...], debounce: float, poll: float, max_builds: int | None,
          unsafe_local: bool, **opts: Any) -> None:
    """Build SPEC, then change the build each time the spec, a per-file spec or an
    acceptance test changes (one build at a time; Ctrl-C stops)."""
    from healer.commands import run_build
    from healer.watch import watch as watch_files

    settings = settings_from(spec_folder(spec), opts)
    budget = Budget(max_iters=max_iters, timeout=timeout)
    test_paths = from_here(tests)

    def one_build() -> RunReport:
        with live_progress() as progress:
            return run_build(spec, output or default_output(spec), settings, budget,
                             tests=test_paths, unsafe_local=unsafe_local, events=progress)

    watch_files(spec, test_paths, one_build, say=lambda line: console.print(f"[bold]{line}[/]"),
                poll=poll, debounce=debounce, max_builds=max_builds)


@cli.command()
@click.argument("request")
@click.option("-d", "--dir", "folder", type=click.Path(exists=True, file_okay=False,
                                                      path_type=Path), default=".",
              show_default=True, help="The folder healer built.")
@click.option("--max-iters", type=click.IntRange(0), default=3, show_default=True,
              help="Repair rounds after the change.")
@budget_options
@click.option("--unsafe-local", is_flag=True, help="Run checks on this machine, unsandboxed.")
@ask_option
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON report on stdout.")
@llm_options
def improve(request: str, folder: Path, max_iters: int, max_tokens: int | None,
            max_cost: float | None, timeout: float | None, unsafe_local: bool, ask: bool,
            quiet: bool, as_json: bool, **opts: Any) -> None:
    """Change a folder healer built as REQUEST asks ("also accept negative numbers"), then
    check and repair it; your own edits in it are kept."""
    from healer.commands import run_improve

    settings = settings_from(Path.cwd(), opts, untrusted=folder)
    budget = Budget(max_iters=max_iters, max_tokens=max_tokens, max_cost=max_cost, timeout=timeout)
    with live_progress(quiet=quiet or as_json) as progress:
        report = run_improve(request, folder, settings, budget, unsafe_local=unsafe_local,
                             events=progress, review=reviewer(ask))
    _show_report(report, quiet=quiet, as_json=as_json)


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--unsafe-local", is_flag=True, help="Run checks on this machine, unsandboxed.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
def check(folder: Path, unsafe_local: bool, as_json: bool) -> None:
    """Run FOLDER's checks in a sandbox; exit 0 when all pass, 1 when some fail."""
    from healer.commands import run_check

    settings = load_settings(Path.cwd(), untrusted=folder)
    results = run_check(folder, settings, unsafe_local=unsafe_local)
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
    else:
        console.print(checks_table(results))
        if all(r.skipped for r in results):
            console.print("[bold red]nothing was checked[/]: healer found no file it has checks "
                          "for, so the folder is not green")
    sys.exit(EXIT_GREEN if verdict(results) else EXIT_NOT_GREEN)


@cli.command()
@click.argument("error", required=False)
@click.option("-d", "--dir", "folder", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=".", show_default=True, help="The project folder.")
@click.option("--error-file", type=click.File("r"), help="Read the error from a file ('-' = stdin).")
@click.option("--apply", is_flag=True, help="Apply the edits as one commit.")
@click.option("--check", is_flag=True, help="Apply, run the checks in the sandbox, and repair "
              "from their failures until they pass or --max-iters rounds are spent.")
@click.option("--max-iters", type=click.IntRange(0, 20), default=3, show_default=True,
              help="With --check: repair rounds after the first.")
@click.option("--unsafe-local", is_flag=True, help="With --check: run the checks on this "
              "machine without a sandbox (generated code runs with your rights).")
@llm_options
def debug(error: str | None, folder: Path, error_file: Any, apply: bool, check: bool,
          max_iters: int, unsafe_local: bool, **opts: Any) -> None:
    """Diagnose ERROR (pasted text, or '-' for stdin) in a project folder and propose edits."""
    from healer.debugger import run_debug

    text = error_file.read() if error_file else (sys.stdin.read() if error in (None, "-") else error)
    if not text.strip():
        raise UsageError("no error text given (pass it as an argument, --error-file or stdin)")
    with live_progress() as progress:
        result = run_debug(text, folder, settings_from(Path.cwd(), opts, untrusted=folder),
                           apply=apply, check=check, max_rounds=max_iters, events=progress,
                           unsafe_local=unsafe_local)
    console.print(f"[bold]Diagnosis:[/] {result.diagnosis or '(none given)'}")
    click.echo(result.diff)
    if result.error:
        raise HealerError(f"the proposed edits could not be applied: {result.error}")
    if not (apply or check):
        console.print("[dim]not applied: add --apply to apply these edits, or --check to "
                      "apply them and check until green[/]")
    if result.rounds:
        for number, rnd in enumerate(result.rounds, 1):
            state = ("checks pass" if verdict(rnd.checks) else
                     "failing: " + ", ".join(c.name for c in rnd.checks if not c.passed
                                             and not c.skipped)) if rnd.checks else "not checked"
            console.print(f"round {number}: {', '.join(rnd.changed) or 'no change'}; {state}"
                          + (f" ({rnd.diagnosis[:120]})" if not rnd.checks else ""))
        console.print("[bold green]green[/]" if result.green else "[bold red]not green[/]")
        sys.exit(EXIT_GREEN if result.green else EXIT_NOT_GREEN)


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the spec here instead of stdout.")
@llm_options
def prompt(folder: Path, output: Path | None, **opts: Any) -> None:
    """Write a spec from which FOLDER's codebase could be regenerated."""
    from healer.commands import run_prompt

    text = run_prompt(folder, settings_from(Path.cwd(), opts, untrusted=folder))
    if output:
        output.write_text(text, encoding="utf-8")
        console.print(f"spec written to {output}")
    else:
        click.echo(text)


@cli.group()
def sandbox() -> None:
    """Manage the sandbox images."""


@sandbox.command("build")
@click.option("--host", metavar="URL", help="the Docker engine to build on (tcp://..., "
              "ssh://...); default: DOCKER_HOST or the current Docker context")
def sandbox_build(host: str | None) -> None:
    """Build the sandbox images that are missing (no registry needed)."""
    from healer.sandbox.images import build_images

    progress = lambda line: console.print(f"[dim]{line}[/]")
    for stack, tag in build_images(progress=progress, host=host).items():
        console.print(f"[green]✓[/] {stack}: {tag}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the bundled local model as an OpenAI-compatible endpoint."""
    from healer.llm.local_server import serve as serve_model

    serve_model(load_settings(Path.cwd()), host=host, port=port,
                announce=lambda line: console.print(line))
