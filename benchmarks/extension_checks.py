"""Time of the Chrome extension checks on the sample extension: the static checks alone, the
browser run (in the Docker sandbox's browser container) without and with smoke steps, and a
broken popup. Prints medians of N runs.

    .venv/bin/python benchmarks/extension_checks.py [N]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from healer.checks.extension import extension_checks, parse_extension_spec
from healer.checks.extension.dom import dom_check
from healer.checks.extension.manifest import manifest_check
from healer.checks.extension.messages import messages_check
from healer.checks.extension.syntax import syntax_check
from healer.sandbox.docker import DockerSandbox

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "extensions"
SPEC = parse_extension_spec((ROOT / "examples" / "chrome-extension" / "spec.md").read_text())


def _sample(folder: Path, variant: str | None = None) -> Path:
    target = folder / (variant or "good")
    shutil.copytree(SAMPLES / "good", target)
    if variant:
        shutil.copytree(SAMPLES / "broken" / variant, target, dirs_exist_ok=True)
    return target


def _static(project: Path) -> None:
    manifest_check(project)
    syntax_check(project)
    dom_check(project, {"content.js"})
    messages_check(project)


def _median(run, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main(n: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        good = _sample(Path(tmp))
        broken = _sample(Path(tmp), "popup_type_error")
        shots = Path(tmp) / "shots"
        box = DockerSandbox()
        cases = {
            "static checks only": lambda: _static(good),
            "all checks, no smoke steps": lambda: extension_checks(good, box, screenshot_dir=shots),
            "all checks + 4 smoke steps": lambda: extension_checks(
                good, box, stubs=SPEC.stub_map(), smoke_steps=SPEC.smoke, screenshot_dir=shots
            ),
            "broken popup (TypeError)": lambda: extension_checks(broken, box,
                                                                 screenshot_dir=shots),
        }
        print(f"extension checks on tests/data/extensions, median (max) of {n} runs")
        for label, run in cases.items():
            median, worst = _median(run, n)
            print(f"  {label:<30} {median:6.2f} s  ({worst:.2f} s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
