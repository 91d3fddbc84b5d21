"""No sandbox at all: commands run on the host, in a temporary copy of the project.

Only for machines where neither Docker nor bubblewrap is available, and only behind an
explicit unsafe flag: generated code runs with the user's own rights and network. The
environment is still reduced to a few harmless variables (no API keys), and paths in the
output are rewritten to /work so that checks read them like the sandboxed backends' output.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from healer.errors import SandboxError
from healer.hostpython import host_python
from healer.models import RunResult
from healer.sandbox.process import run_group
from healer.sandbox.project import EXCLUDED, WORK
from healer.stacks import install_script

log = logging.getLogger(__name__)


class UnsafeLocalSandbox:
    """Sandbox protocol without isolation; dependencies go into a per-project folder."""

    name = "unsafe-local"

    def __init__(self) -> None:
        log.warning("running generated code WITHOUT a sandbox (unsafe-local)")
        self._deps = Path(tempfile.mkdtemp(prefix="healer-deps-"))

    def _environment(self, home: Path) -> dict[str, str]:
        python_bin = str(Path(sys.executable).parent)
        return {
            "PATH": f"{self._deps}/bin:{python_bin}:/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": str(self._deps),
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def prepare(self, project: Path, *, timeout: float | None = None) -> RunResult | None:
        if install_script(project) is None:
            return None
        from healer.stacks.python import declared_dependencies

        args = declared_dependencies(Path(project))
        if not args:
            return None
        command = host_python("pip", "install", "-q", "--target", str(self._deps), "--", *args)
        start = time.monotonic()
        try:
            proc = subprocess.run(command, capture_output=True, text=True, check=False,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return RunResult(exit_code=None, timed_out=True, duration=time.monotonic() - start)
        return RunResult(exit_code=proc.returncode, stdout=proc.stdout, stderr=proc.stderr,
                         duration=time.monotonic() - start)

    def run(self, project: Path, command: str, *, timeout: float, network: bool = False) -> RunResult:
        with tempfile.TemporaryDirectory(prefix="healer-work-") as tmp:
            work = Path(tmp) / "work"
            shutil.copytree(project, work, ignore=shutil.ignore_patterns(*EXCLUDED))
            home = Path(tmp) / "home"
            home.mkdir()
            return self._execute(command, work, self._environment(home), timeout)

    def _execute(self, command: str, work: Path, env: dict[str, str], timeout: float) -> RunResult:
        result = run_group(["sh", "-c", command], timeout=timeout, cwd=work, env=env)
        return result.model_copy(update={"stdout": result.stdout.replace(str(work), WORK),
                                         "stderr": result.stderr.replace(str(work), WORK)})

    def run_browser(self, folder: Path, *, timeout: float) -> RunResult:
        """healer's browser session in the host's Chromium, as the user (no isolation)."""
        from healer.checks.extension.chromium import find_chromium

        chromium = find_chromium()
        if chromium is None:
            raise SandboxError("Chromium is not installed on this machine",
                               hint="apt-get install chromium")
        home = Path(folder) / "home"
        home.mkdir(exist_ok=True)
        env = {**self._environment(home), "PYTHONPATH": ""}
        argv = host_python("healer.checks.extension.browser", str(folder),
                           str(Path(folder) / "scratch"), "--chromium", chromium)
        return run_group(argv, timeout=timeout, env=env)

    def close(self) -> None:
        shutil.rmtree(self._deps, ignore_errors=True)
