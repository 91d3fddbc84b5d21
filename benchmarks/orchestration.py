"""Orchestration figures with the scripted model server, measured side by side in one run:

1. parallel generation: `healer generate` of N = 1, 8, 32 files, every call answered after a
   fixed delay, against the serial time (N file calls + plan + file list, one after another);
2. the response cache: a second identical generate run, its calls and time against the first;
3. per-round sandbox overhead: one healer check round on a tiny project in Docker against the
   same pytest run directly on the host.

    python -m benchmarks orchestration [--delay 0.3]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from healer.checks import run_checks
from healer.commands import run_generate
from healer.config import Settings
from healer.sandbox import open_sandbox
from tests.fakellm import FakeLLM
from tests.scripted_model import ProjectModel

SIZES = (1, 8, 32)
CHECK_RUNS = 5
GENERATE_RUNS = 3
TINY_CODE = "def add(a, b):\n    return a + b\n"
TINY_TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def _spec(folder: Path, n: int) -> Path:
    path = folder / f"spec{n}.md"
    path.write_text(f"# Modules\nA package of {n} small modules, each with one function.\n")
    return path


def _files(n: int) -> dict[str, str]:
    return {f"pkg/mod{i}.py": f"def f{i}():\n    return {i}\n" for i in range(n)}


def _generate(fake: FakeLLM, spec: Path, out: Path, settings: Settings) -> tuple[float, int]:
    before = fake.count
    started = time.perf_counter()
    run_generate(str(spec), out, settings)
    return time.perf_counter() - started, fake.count - before


def _median_generate(fake: FakeLLM, spec: Path, out: Path, settings: Settings
                     ) -> tuple[float, int]:
    """Median wall time of GENERATE_RUNS fresh runs, and the calls of one run."""
    runs = [_generate(fake, spec, out / str(i), settings) for i in range(GENERATE_RUNS)]
    return statistics.median(w for w, _ in runs), runs[0][1]


def parallel_generation(fake: FakeLLM, tmp: Path, delay: float) -> list[str]:
    lines = [f"## 1. Parallel generation (every call answered after {delay:.2f} s)", "",
             ("Each size runs twice: with no delay (healer's own time: git, files, parsing) and "
             "with the delay. `delay part` is the difference, to compare with the ideal "
             "(plan + file list + one file call, one after another) and the serial time "
             "(every call one after another). Medians of 3 fresh runs."), "",
             ("| files | calls | concurrency | wall s | no-delay wall s | delay part s | ideal s "
             "| serial s | serial / wall | delay part / ideal |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for n in SIZES:
        fake.responder = ProjectModel(_files(n))
        settings = _settings(fake, tmp, concurrency=max(8, n), cache=False)
        spec = _spec(tmp, n)
        saved, fake.delay = fake.delay, 0.0
        base, _ = _median_generate(fake, spec, tmp / f"gen{n}-nodelay", settings)
        fake.delay = saved
        wall, calls = _median_generate(fake, spec, tmp / f"gen{n}", settings)
        serial, ideal, part = calls * delay, 3 * delay, max(0.0, wall - base)
        lines.append(f"| {n} | {calls} | {settings.concurrency} | {wall:.2f} | {base:.2f} "
                     f"| {part:.2f} | {ideal:.2f} | {serial:.2f} | x{serial / wall:.1f} "
                     f"| {part / ideal:.2f} |")
    return lines


def cache_rerun(fake: FakeLLM, tmp: Path) -> list[str]:
    n = 8
    fake.responder = ProjectModel(_files(n))
    settings = _settings(fake, tmp, concurrency=8, cache=True)
    spec = _spec(tmp, n)
    first, first_calls = _generate(fake, spec, tmp / "cache-first", settings)
    second, second_calls = _generate(fake, spec, tmp / "cache-second", settings)
    return ["## 2. Response cache: the same generate run twice (8 files)", "",
            "| run | calls to the server | wall s |", "|---|---|---|",
            f"| first | {first_calls} | {first:.2f} |",
            f"| second (identical) | {second_calls} | {second:.2f} |",
            "", (f"Second run: {second_calls} of {first_calls} calls, "
            f"{100 * second / first:.0f}% of the first run's time.")]


def _median(run, n: int) -> float:
    run()  # warm-up, not counted
    times = []
    for _ in range(n):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def sandbox_round(tmp: Path) -> list[str]:
    project = tmp / "tiny"
    project.mkdir()
    (project / "calc.py").write_text(TINY_CODE)
    (project / "test_calc.py").write_text(TINY_TEST)
    host_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    host = _median(lambda: subprocess.run(host_cmd, cwd=project, check=True,
                                          capture_output=True), CHECK_RUNS)
    sandbox = open_sandbox(Settings())
    names: list[str] = []
    try:
        def round_once() -> None:
            checks = run_checks(project, sandbox, timeout=120)
            assert all(c.passed or c.skipped for c in checks), checks
            names[:] = [c.name for c in checks if not c.skipped]
        docker = _median(round_once, CHECK_RUNS)
    finally:
        sandbox.close()
    return ["## 3. One check round on a tiny project (one module, one passing test)", "",
            "| where | median s | x host |", "|---|---|---|",
            f"| host: pytest directly | {host:.3f} | x1.00 |",
            (f"| healer check round in Docker ({', '.join(names)}) | {docker:.3f} "
            f"| x{docker / host:.2f} |"),
            "", f"Median of {CHECK_RUNS} runs after one warm-up run."]


def _settings(fake: FakeLLM, tmp: Path, *, concurrency: int, cache: bool) -> Settings:
    return Settings(base_url=fake.url, model="test-model", api_key="k", cache=cache,
                    cache_dir=tmp / "cache", concurrency=concurrency, max_retries=0)


def report(delay: float) -> str:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder, FakeLLM(delay=delay) as fake:
        tmp = Path(folder)
        sections = [parallel_generation(fake, tmp, delay), cache_rerun(fake, tmp),
                    sandbox_round(tmp)]
    head = ["# Orchestration benchmarks", "",
            ("Scripted OpenAI-compatible server on loopback; reproduce with "
            f"`python -m benchmarks orchestration --delay {delay}`. Machine: {os.cpu_count()} "
            f"cores, load average {load:.1f} when the run started."), ""]
    return "\n".join(head + [line for s in sections for line in [*s, ""]])


def main(delay: float = 0.3, out: Path | None = None) -> int:
    text = report(delay)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
