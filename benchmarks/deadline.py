"""How far past `--timeout` a build stops when the endpoint hangs (goal: under 5 s).

A scripted endpoint answers normally until the phase named, then never answers (it holds each
request for ten minutes). The build runs in-process through the CLI, with the real sandbox.

    python -m benchmarks deadline [--timeouts 10 30]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from healer.cli import cli
from tests.fakellm import FakeLLM, Reply
from tests.scripted_model import ProjectModel

PHASES = ("plan", "generate", "debug")
BUGGY = "def add(a, b):\n    return a - b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def _one(phase: str, timeout: float, tmp: Path) -> tuple[float, int, str]:
    (tmp / "test_calc.py").write_text(TESTS)
    spec = tmp / "calc.md"
    spec.write_text("# Calc\nA module `calc.py` with `add(a, b)`.\n## Tests\n- test_calc.py\n")
    (tmp / "healer.toml").write_text('plan = "always"\n')  # a one-file spec skips the plan
    model = ProjectModel({"calc.py": BUGGY})

    def respond(request):
        answer = model(request)
        return Reply(text="late", delay=600) if model.kinds()[-1] == phase else answer

    server = FakeLLM().start()
    server.responder = respond
    env = {"OPENAI_BASE_URL": server.url, "HEALER_MODEL": "test-model", "OPENAI_API_KEY": "k",
           "HEALER_CACHE_DIR": str(tmp / "cache")}
    started = time.monotonic()
    try:
        result = CliRunner().invoke(cli, ["build", str(spec), "-o", str(tmp / "out"), "-q",
                                          "--timeout", str(timeout)], env=env)
    finally:
        elapsed = time.monotonic() - started
        server.close()
    last = (result.output.strip().splitlines() or [""])[-1]
    return elapsed, result.exit_code, last


def main(timeouts: list[float]) -> str:
    rows = ["| endpoint hangs at | --timeout | build ended after | past the deadline | exit |",
            "|---|---|---|---|---|"]
    for phase in PHASES:
        for timeout in timeouts:
            with tempfile.TemporaryDirectory() as tmp:
                elapsed, code, _ = _one(phase, timeout, Path(tmp))
            rows.append(f"| {phase} | {timeout:.0f} s | {elapsed:.1f} s | "
                        f"{elapsed - timeout:+.1f} s | {code} |")
    return "\n".join(rows)
