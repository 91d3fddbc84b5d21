"""Which answer formats does the small bundled model get right?

Two jobs the pipeline gives the model, each asked in two formats:

- file list: JSON constrained by a json_schema response_format, or a plain list of lines;
- repair:    SEARCH/REPLACE blocks, or the whole corrected file in one fenced block.

Repair cases are tiny buggy Python modules, each with one failing pytest test. An answer
counts when it is well-formed, applies, and makes the test pass (pytest runs on the host:
the snippets are this script's own). "strict" reads the answer literally; "tolerant" goes
through healer's own parser (healer.pipeline.edits / fences) when it is importable.

    .venv/bin/python benchmarks/local_model_formats.py [--reps 2] [--concurrency 2] [--base-url URL --model M]

Prints a table and writes benchmarks/results/local_model_formats.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from openai import OpenAI

from healer.config import Settings
from healer.llm.local_server import local_endpoint
from healer.llm.weights import ensure_model

HERE = Path(__file__).resolve().parent
PROMPTS = HERE / "local_model_formats"
RESULTS = HERE / "results" / "local_model_formats.md"
TEMPERATURE = 0.2
MAX_TOKENS = 1024
GEN_TPS: list[float] = []  # generation rates the server reported, one per long enough call
ANSWERS: list[dict[str, object]] = []  # every answer, for --answers


def prompt(name: str, **values: str) -> str:
    return Template((PROMPTS / f"{name}.md").read_text()).substitute(values)


def system_prompt() -> str:
    from healer.errors import HealerError
    from healer.prompts import render

    try:
        return render("system")
    except HealerError:  # the product's system prompt is optional here
        return ""


# ---------------------------------------------------------------- cases


@dataclass(frozen=True)
class RepairCase:
    name: str
    path: str
    source: str
    test_path: str
    test: str
    fixed: str  # a reference fix, used by --check-cases


def _code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


REPAIRS = [
    RepairCase(
        "KeyError on a missing key",
        "shop/prices.py",
        _code('''
            def price_of(prices, item):
                """Price of item; items that are not listed cost 0."""
                return prices[item]
        '''),
        "tests/test_prices.py",
        _code("""
            from shop.prices import price_of


            def test_listed_and_unlisted_items():
                assert price_of({"tea": 3}, "tea") == 3
                assert price_of({"tea": 3}, "cake") == 0
        """),
        _code('''
            def price_of(prices, item):
                """Price of item; items that are not listed cost 0."""
                return prices.get(item, 0)
        '''),
    ),
    RepairCase(
        "off-by-one slice",
        "text/window.py",
        _code('''
            def last_n(items, n):
                """The last n items, in their order."""
                return items[len(items) - n - 1 :]
        '''),
        "tests/test_window.py",
        _code("""
            from text.window import last_n


            def test_last_two():
                assert last_n([1, 2, 3, 4], 2) == [3, 4]
        """),
        _code('''
            def last_n(items, n):
                """The last n items, in their order."""
                return items[len(items) - n :]
        '''),
    ),
    RepairCase(
        "wrong variable returned",
        "counting/parity.py",
        _code('''
            def count_even(numbers):
                """How many of the numbers are even."""
                count = 0
                for n in numbers:
                    if n % 2 == 0:
                        count += 1
                return n
        '''),
        "tests/test_parity.py",
        _code("""
            from counting.parity import count_even


            def test_counts_evens():
                assert count_even([1, 2, 4, 5]) == 2
        """),
        _code('''
            def count_even(numbers):
                """How many of the numbers are even."""
                count = 0
                for n in numbers:
                    if n % 2 == 0:
                        count += 1
                return count
        '''),
    ),
    RepairCase(
        "exclusive range end",
        "maths/series.py",
        _code('''
            def triangle(n):
                """The sum 1 + 2 + ... + n."""
                return sum(range(1, n))
        '''),
        "tests/test_series.py",
        _code("""
            from maths.series import triangle


            def test_triangle_numbers():
                assert triangle(1) == 1
                assert triangle(4) == 10
        """),
        _code('''
            def triangle(n):
                """The sum 1 + 2 + ... + n."""
                return sum(range(1, n + 1))
        '''),
    ),
    RepairCase(
        "split on one space only",
        "text/words.py",
        _code('''
            def word_count(text):
                """Number of words; words are separated by any run of whitespace."""
                return len(text.split(" "))
        '''),
        "tests/test_words.py",
        _code("""
            from text.words import word_count


            def test_any_whitespace_separates_words():
                assert word_count("a  b\\nc") == 3
                assert word_count("") == 0
        """),
        _code('''
            def word_count(text):
                """Number of words; words are separated by any run of whitespace."""
                return len(text.split())
        '''),
    ),
    RepairCase(
        "overwrite instead of add",
        "inventory/stock.py",
        _code('''
            class Stock:
                """Counts of items in a store."""

                def __init__(self):
                    self.items = {}

                def add(self, name, count):
                    """Add count units of name to the stock."""
                    self.items[name] = count

                def total(self):
                    return sum(self.items.values())
        '''),
        "tests/test_stock.py",
        _code("""
            from inventory.stock import Stock


            def test_adding_twice_adds_up():
                stock = Stock()
                stock.add("apple", 2)
                stock.add("apple", 3)
                stock.add("pear", 1)
                assert stock.total() == 6
                assert stock.items["apple"] == 5
        """),
        _code('''
            class Stock:
                """Counts of items in a store."""

                def __init__(self):
                    self.items = {}

                def add(self, name, count):
                    """Add count units of name to the stock."""
                    self.items[name] = self.items.get(name, 0) + count

                def total(self):
                    return sum(self.items.values())
        '''),
    ),
]


@dataclass(frozen=True)
class ListCase:
    name: str
    spec: str
    expected: tuple[str, ...]  # suffixes some listed path must end with


LISTS = [
    ListCase(
        "python cli",
        "wordfreq: a Python command-line program that prints the ten most frequent words of a "
        "text file with their counts. Tested with pytest.",
        (".py", "test_"),
    ),
    ListCase(
        "chrome extension",
        "A Chrome extension (Manifest V3) whose popup shows how many words the current page "
        "has. A background service worker counts them when asked.",
        ("manifest.json", "popup.html", ".js"),
    ),
    ListCase(
        "flask api",
        "A small Flask JSON API for a to-do list kept in memory: list, add, complete and "
        "delete items. Dependencies in requirements.txt; pytest tests for every route.",
        ("requirements.txt", ".py", "test_"),
    ),
    ListCase(
        "web game",
        "A static web page where two players play tic-tac-toe: index.html, a stylesheet and "
        "a script; it shows whose turn it is and announces the winner.",
        ("index.html", ".css", ".js"),
    ),
]

# ---------------------------------------------------------------- running code


def _write_project(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def run_pytest(root: Path) -> tuple[bool, str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "--no-header", "-p", "no:cacheprovider"],
        check=False,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return result.returncode == 0, result.stdout[-2500:]


def case_files(case: RepairCase, source: str | None = None) -> dict[str, str]:
    return {case.path: case.source if source is None else source, case.test_path: case.test}


def failure_of(case: RepairCase) -> str:
    with tempfile.TemporaryDirectory() as folder:
        _write_project(Path(folder), case_files(case))
        passed, output = run_pytest(Path(folder))
    if passed:
        raise SystemExit(f"case {case.name!r} does not fail as written")
    return output.strip()


def check_cases() -> None:
    for case in REPAIRS:
        failure_of(case)
        with tempfile.TemporaryDirectory() as folder:
            _write_project(Path(folder), case_files(case, case.fixed))
            passed, output = run_pytest(Path(folder))
        print(f"{case.name:32} fails as written, reference fix passes: {passed}")
        if not passed:
            print(output)


def codebase_text(case: RepairCase) -> str:
    return "\n".join(
        f"## {rel}\n```python\n{content}```\n" for rel, content in case_files(case).items()
    )


# ---------------------------------------------------------------- reading answers


BLOCK = re.compile(
    r"^(?P<path>[^\n<>=`]+?)[ \t]*\n<<<<<<< SEARCH[ \t]*\n(?P<search>.*?)^=======[ \t]*\n"
    r"(?P<replace>.*?)^>>>>>>> REPLACE[ \t]*$",
    re.DOTALL | re.MULTILINE,
)
FENCED = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def strict_search_replace(answer: str, case: RepairCase) -> str | None | bool:
    """New source, False when malformed, None when well-formed but not applicable."""
    blocks = list(BLOCK.finditer(answer))
    if not blocks:
        return False
    source = case.source
    for block in blocks:
        if block["path"].strip() != case.path or block["search"] not in source:
            return None
        if source.count(block["search"]) != 1 or not block["search"].strip():
            return None
        source = source.replace(block["search"], block["replace"], 1)
    return source


def strict_whole_file(answer: str, case: RepairCase) -> str | None | bool:
    blocks = FENCED.findall(answer)
    return blocks[0] if len(blocks) == 1 else False


def tolerant_search_replace(answer: str, case: RepairCase) -> str | None | bool:
    from healer.errors import HealerError
    from healer.pipeline.edit_parser import parse_edits
    from healer.pipeline.edits import apply_edits

    try:
        edits = parse_edits(answer)
    except HealerError:
        return False
    if not edits:
        return False
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        _write_project(root, case_files(case))
        try:
            apply_edits(root, edits, protected=[case.test_path])
        except HealerError:
            return None
        return (root / case.path).read_text()


def tolerant_whole_file(answer: str, case: RepairCase) -> str | None | bool:
    from healer.pipeline.fences import strip_fences

    content = strip_fences(answer, case.path)
    return content if content.strip() else False


def tolerant_available() -> bool:
    from importlib.util import find_spec

    return all(find_spec(name) for name in ("healer.pipeline.edit_parser", "healer.pipeline.edits", "healer.pipeline.fences"))


# ---------------------------------------------------------------- calling the model


@dataclass
class Call:
    text: str
    seconds: float
    completion_tokens: int
    finish_reason: str
    gen_tps: float | None


def ask(client: OpenAI, model: str, user: str, **extra: object) -> Call:
    messages = [{"role": "user", "content": user}]
    system = system_prompt()
    if system:
        messages.insert(0, {"role": "system", "content": system})
    started = time.perf_counter()
    response = client.chat.completions.create(
        model=model,
        messages=messages,  # type: ignore[arg-type]
        temperature=TEMPERATURE,
        max_tokens=MAX_TOKENS,
        **extra,  # type: ignore[arg-type]
    )
    seconds = time.perf_counter() - started
    timings = (response.model_extra or {}).get("timings") or {}
    if timings.get("predicted_n", 0) >= 20:  # short answers give noisy rates
        GEN_TPS.append(float(timings["predicted_per_second"]))
    return Call(
        text=response.choices[0].message.content or "",
        seconds=seconds,
        completion_tokens=response.usage.completion_tokens if response.usage else 0,
        finish_reason=response.choices[0].finish_reason or "",
        gen_tps=timings.get("predicted_per_second"),
    )


# ---------------------------------------------------------------- tallies


@dataclass
class Tally:
    label: str
    runs: int = 0
    well_formed: int = 0
    applied: int = 0
    fixed: int = 0
    unchanged: int = 0
    seconds: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)

    def row(self) -> list[str]:
        def share(n: int) -> str:
            return f"{n}/{self.runs} ({100 * n / self.runs:.0f}%)" if self.runs else "-"

        return [
            self.label,
            share(self.well_formed),
            share(self.applied),
            share(self.fixed),
            share(self.unchanged),
            f"{statistics.median(self.seconds):.1f}" if self.seconds else "-",
            f"{statistics.median(self.tokens):.0f}" if self.tokens else "-",
        ]


Reader = Callable[[str, RepairCase], "str | None | bool"]


def score_repair(tally: Tally, call: Call, case: RepairCase, reader: Reader) -> bool:
    tally.runs += 1
    tally.seconds.append(call.seconds)
    tally.tokens.append(call.completion_tokens)
    if call.finish_reason == "length":
        return False
    new_source = reader(call.text, case)
    if new_source is False:
        return False
    tally.well_formed += 1
    if new_source is None:
        return False
    tally.applied += 1
    if new_source.strip() == case.source.strip():
        tally.unchanged += 1
        return False
    with tempfile.TemporaryDirectory() as folder:
        _write_project(Path(folder), case_files(case, new_source))
        passed, _ = run_pytest(Path(folder))
    tally.fixed += passed
    return passed


def _readers() -> dict[str, tuple[str, Reader]]:
    readers: dict[str, tuple[str, Reader]] = {
        "search/replace, strict": ("repair_search_replace", strict_search_replace),
        "whole file, strict": ("repair_whole_file", strict_whole_file),
    }
    if tolerant_available():
        readers["search/replace, healer parser"] = (
            "repair_search_replace",
            tolerant_search_replace,
        )
        readers["whole file, healer parser"] = ("repair_whole_file", tolerant_whole_file)
    return readers


Job = tuple[tuple[object, ...], str, dict[str, object]]


def calls_in_parallel(
    jobs: list[Job], ask_one: Callable[..., Call], workers: int
) -> Iterator[tuple[tuple[object, ...], Call]]:
    """Send (key, prompt, extra) jobs `workers` at a time; yield (key, call) in job order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [(key, pool.submit(ask_one, text, **extra)) for key, text, extra in jobs]
        for key, future in futures:
            yield key, future.result()


def run_repairs(ask_one: Callable[..., Call], reps: int, workers: int) -> list[Tally]:
    readers = _readers()
    tallies = {label: Tally(label) for label in readers}
    jobs: list[Job] = []
    for case in REPAIRS:
        failure = failure_of(case)
        for template in ("repair_search_replace", "repair_whole_file"):
            text = prompt(template, codebase=codebase_text(case), failure=failure, path=case.path)
            jobs += [((case, template, rep), text, {}) for rep in range(reps)]
    for (case, template, rep), call in calls_in_parallel(jobs, ask_one, workers):
        assert isinstance(case, RepairCase) and isinstance(rep, int)
        ANSWERS.append({"case": case.name, "format": template, "rep": rep, "text": call.text})
        verdicts = []
        for label, (wanted, reader) in readers.items():
            if wanted == template:
                ok = score_repair(tallies[label], call, case, reader)
                verdicts.append(f"{label}={'fixed' if ok else 'no'}")
        _log(f"{case.name:28} {template:22} #{rep + 1} {call.seconds:5.1f}s "
             f"{call.completion_tokens:4d} tok  " + ", ".join(verdicts))  # fmt: skip
    return list(tallies.values())


# ---------------------------------------------------------------- file lists

LIST_SCHEMA = {
    "type": "object",
    "properties": {
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "purpose": {"type": "string"}},
                "required": ["path", "purpose"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["files"],
    "additionalProperties": False,
}
PATHLIKE = re.compile(r"^(?!/)(?!.*\.\.)[\w.-]+(/[\w.-]+)*$")


def paths_from_json(text: str) -> list[str] | None:
    try:
        files = json.loads(text)["files"]
        return [f["path"] for f in files]
    except (ValueError, KeyError, TypeError):
        return None


def paths_from_lines(text: str) -> list[str] | None:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines or None


def list_is_usable(paths: list[str], case: ListCase) -> bool:
    if len(set(paths)) != len(paths) or not all(PATHLIKE.match(p) for p in paths):
        return False
    names = [p.rsplit("/", 1)[-1] for p in paths]
    return all(
        any(p.endswith(e) or n.startswith(e) for p, n in zip(paths, names, strict=True))
        for e in case.expected
    )


def run_lists(ask_one: Callable[..., Call], reps: int, workers: int) -> list[Tally]:
    formats = {
        "json_schema response_format": (
            "files_json",
            paths_from_json,
            {"response_format": {"type": "json_schema",
                                 "json_schema": {"name": "file_list", "schema": LIST_SCHEMA}}},
        ),
        "plain lines": ("files_lines", paths_from_lines, {}),
    }  # fmt: skip
    tallies = {label: Tally(label) for label in formats}
    jobs: list[Job] = [
        ((case, label, rep), prompt(template, spec=case.spec), extra)
        for case in LISTS
        for label, (template, _, extra) in formats.items()
        for rep in range(reps)
    ]
    for (case, label, rep), call in calls_in_parallel(jobs, ask_one, workers):
        assert isinstance(case, ListCase) and isinstance(label, str) and isinstance(rep, int)
        ANSWERS.append({"case": case.name, "format": label, "rep": rep, "text": call.text})
        tally = tallies[label]
        tally.runs += 1
        tally.seconds.append(call.seconds)
        tally.tokens.append(call.completion_tokens)
        reader = formats[label][1]
        paths = reader(call.text) if call.finish_reason != "length" else None
        tally.well_formed += paths is not None
        usable = paths is not None and list_is_usable(paths, case)
        tally.fixed += usable
        _log(f"{case.name:18} {label:28} #{rep + 1} {call.seconds:5.1f}s "
             f"{call.completion_tokens:4d} tok  usable={usable} {paths}")  # fmt: skip
    return list(tallies.values())


# ---------------------------------------------------------------- report


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _server_rss_mib() -> float | None:
    """Resident memory of this process's own model server child."""
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
            ppid = int(status.split("PPid:")[1].split()[0])
            if ppid == os.getpid() and b"local_server" in (entry / "cmdline").read_bytes():
                return int(status.split("VmRSS:")[1].split()[0]) / 1024
        except (OSError, IndexError, ValueError):
            continue
    return None


@dataclass
class Facts:
    model: str
    endpoint: str
    assembly_s: float | None = None
    ready_s: float | None = None
    rss_mib: float | None = None
    gen_tps: list[float] = field(default_factory=list)


REPAIR_HEADERS = [
    "format", "well-formed", "applies", "fixed", "unchanged", "median s/call", "median tokens"
]  # fmt: skip


def report(
    facts: Facts, repairs: list[Tally], lists: list[Tally], args: argparse.Namespace, wall: float
) -> str:
    repair_rows = [t.row() for t in repairs]
    list_rows = [[r[0], r[1], r[3], r[5], r[6]] for r in (t.row() for t in lists)]
    tps = f"{statistics.median(facts.gen_tps):.1f}" if facts.gen_tps else "n/a"
    facts_lines = [
        f"- model file check with a current stamp: {facts.assembly_s:.3f} s"
        if facts.assembly_s is not None else None,
        f"- server ready after {facts.ready_s:.1f} s" if facts.ready_s is not None else None,
        f"- server resident memory (peak seen): {facts.rss_mib:.0f} MiB"
        if facts.rss_mib else None,
        f"- generation speed (server timings, median per call): {tps} tokens/s",
    ]  # fmt: skip
    lines = [
        "# Answer formats on the bundled local model",
        "",
        (
            f"Run {time.strftime('%Y-%m-%d %H:%M')} by `benchmarks/local_model_formats.py` on "
            f"{platform.machine()}, {os.cpu_count()} cores; model `{facts.model}` at "
            f"{facts.endpoint}; temperature {TEMPERATURE}; {args.reps} runs per repair case "
            f"and format, {args.list_reps} per file-list spec and format; "
            f"{args.concurrency} calls in flight at once (times per call are latencies under "
            f"that load); total wall time {wall / 60:.1f} min."
        ),
        "",
        *[line for line in facts_lines if line],
        "",
        "## Repair: SEARCH/REPLACE blocks vs the whole file",
        "",
        (
            f"{len(REPAIRS)} tiny buggy modules, each with one failing pytest test; the prompt "
            "shows both files and the pytest output. *well-formed*: the format was followed; "
            "*applies*: the edit matched the file; *fixed*: the test passes afterwards; "
            '*unchanged*: the answer gave back the buggy code. "strict" reads the answer '
            'literally; "healer parser" uses `healer.pipeline.edits` / `fences` (tolerant '
            "matching, fences stripped)."
        ),
        "",
        table(REPAIR_HEADERS, repair_rows),
        "",
        "## File list: json_schema response_format vs plain lines",
        "",
        (
            f"{len(LISTS)} one-paragraph specs. *usable*: relative file paths, no duplicates, "
            "and the files the spec cannot do without (e.g. manifest.json for an extension)."
        ),
        "",
        table(["format", "well-formed", "usable", "median s/call", "median tokens"], list_rows),
        "",
    ]
    return "\n".join(lines) + "\n"


def _log(line: str) -> None:
    print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=2, help="runs per repair case and format")
    parser.add_argument("--list-reps", type=int, default=1, help="runs per spec and format")
    parser.add_argument("--concurrency", type=int, default=2, help="calls in flight at once")
    parser.add_argument("--base-url", default=None, help="measure another endpoint instead")
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--check-cases", action="store_true", help="only validate the cases")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--answers", type=Path, default=None, help="save raw answers (JSONL)")
    parser.add_argument("--only", choices=["repairs", "lists"], default=None)
    args = parser.parse_args()
    if args.check_cases:
        check_cases()
        return 0
    overrides = {"base_url": args.base_url, "model": args.model, "local_threads": args.threads}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    started = time.perf_counter()
    facts = Facts(model=settings.model or "", endpoint=settings.base_url or "")
    if settings.uses_local_model:
        ensure_model(settings)  # assemble first, so the timing below is the cached check
        check_started = time.perf_counter()
        ensure_model(settings)
        facts.assembly_s = time.perf_counter() - check_started
    ready_started = time.perf_counter()
    with local_endpoint(settings) as endpoint:
        if settings.uses_local_model:
            facts.ready_s = time.perf_counter() - ready_started
            facts.rss_mib = _server_rss_mib()
        facts.model, facts.endpoint = endpoint.model or "", endpoint.base_url or ""
        client = OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key or "none")
        ask_one = functools.partial(ask, client, facts.model)
        lists = (
            run_lists(ask_one, args.list_reps, args.concurrency) if args.only != "repairs" else []
        )
        repairs = run_repairs(ask_one, args.reps, args.concurrency) if args.only != "lists" else []
        if settings.uses_local_model:
            facts.rss_mib = max(facts.rss_mib or 0, _server_rss_mib() or 0)
    facts.gen_tps = list(GEN_TPS)
    text = report(facts, repairs, lists, args, time.perf_counter() - started)
    print("\n" + text)
    if args.answers:
        args.answers.write_text("".join(json.dumps(a) + "\n" for a in ANSWERS))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
