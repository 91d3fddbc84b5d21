"""Per-round overhead of the sandboxes: the same small pytest run on the host, in a container
of the local Docker engine, of each remote engine given, and under bubblewrap (not as root).
Prints medians and ratios to the host.

    .venv/bin/python benchmarks/sandbox_overhead.py [N] [--engine tcp://HOST:PORT ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from healer.sandbox.bwrap import BwrapSandbox
from healer.sandbox.docker import DockerSandbox, connect

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


def main(n: int = 10, engines: tuple[str, ...] = ()) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = _project(Path(tmp))
        host_cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        rows = {"host": _median(lambda: subprocess.run(host_cmd, cwd=project, check=True,
                                                        capture_output=True), n)}
        boxes = {"docker (local)": DockerSandbox()}
        boxes.update({f"docker {url}": DockerSandbox(client=connect(url)) for url in engines})
        if os.geteuid() != 0:
            boxes["bwrap"] = BwrapSandbox()
        for name, box in boxes.items():
            def once(box=box):
                result = box.run(project, COMMAND, timeout=60)
                assert result.ok, result.stdout + result.stderr
            rows[name] = _median(once, n)
    host = rows["host"]
    print(f"median of {n} runs of `{COMMAND}` (one passing test)")
    for name, seconds in rows.items():
        print(f"  {name:<32} {seconds:6.3f} s   x{seconds / host:4.2f} of host")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=10)
    parser.add_argument("--engine", action="append", default=[], metavar="URL")
    args = parser.parse_args()
    main(args.n, tuple(args.engine))
