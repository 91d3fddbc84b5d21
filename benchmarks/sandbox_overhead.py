"""Per-round overhead of the sandboxes: the same small pytest run on the host, in a fresh
container, in a warm container and under bubblewrap. Prints medians and ratios to the host.

    .venv/bin/python benchmarks/sandbox_overhead.py [N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from healer.sandbox.bwrap import BwrapSandbox
from healer.sandbox.docker import DockerSandbox

COMMAND = "python3 -m pytest -q -p no:cacheprovider"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def _project(folder: Path) -> Path:
    (folder / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (folder / "test_calc.py").write_text(TESTS)
    return folder


def _median(run, n: int) -> float:
    run()  # warm-up, not counted
    times = []
    for _ in range(n):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(n: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = _project(Path(tmp))
        host_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        rows = {"host": _median(lambda: subprocess.run(host_cmd, cwd=project, check=True,
                                                        capture_output=True), n)}
        fresh = DockerSandbox()
        warm = DockerSandbox(warm=True)
        bwrap = BwrapSandbox()
        for name, box in (("docker fresh", fresh), ("docker warm", warm), ("bwrap", bwrap)):
            def once(box=box):
                result = box.run(project, COMMAND, timeout=60)
                assert result.ok, result.stdout + result.stderr
            rows[name] = _median(once, n)
        warm.close()
    host = rows["host"]
    print(f"median of {n} runs of `{COMMAND}` (one passing test)")
    for name, seconds in rows.items():
        print(f"  {name:<13} {seconds:6.3f} s   x{seconds / host:4.2f} of host")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
