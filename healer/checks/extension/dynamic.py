"""Start the browser session in a child process, bounded in time, and read back its results."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from healer.checks.extension.browser import (
    BROWSER_CHECK,
    BrowserRequest,
    extension_id,
    find_chromium,
)
from healer.checks.extension.manifest import Manifest
from healer.checks.extension.sources import SKIPPED_DIRS
from healer.checks.extension.spec import SmokeStep, Stub
from healer.models import CheckResult, Failure

GRACE = 20.0  # seconds for Chromium to start and shut down, on top of the session's own budget

log = logging.getLogger(__name__)


def _skipped(reason: str) -> CheckResult:
    return CheckResult(name=BROWSER_CHECK, passed=False, skipped=True, detail=reason)


def _copy_extension(project: Path, target: Path) -> None:
    shutil.copytree(project, target, ignore=shutil.ignore_patterns(*SKIPPED_DIRS), symlinks=False)


def _run_child(request_file: Path, result_file: Path, timeout: float) -> str | None:
    """Run the session process; the reason it failed, or None."""
    command = [
        sys.executable,
        "-m",
        "healer.checks.extension.browser",
        str(request_file),
        str(result_file),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return f"the browser check did not finish within {timeout:.0f} s and was killed"
    if process.returncode != 0 or not result_file.is_file():
        tail = "\n".join((output or "").strip().splitlines()[-15:])
        return f"the browser check crashed (exit {process.returncode}):\n{tail}"
    return None


def browser_checks(
    project: Path,
    manifest: Manifest,
    *,
    timeout: float,
    stubs: list[Stub],
    smoke: list[SmokeStep],
    screenshot: Path,
) -> list[CheckResult]:
    chromium = find_chromium()
    if chromium is None:
        return [_skipped("Chromium not found (install Debian's chromium package)")]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="healer-extension-") as scratch:
        work = Path(scratch)
        extension_dir = work / "extension"
        _copy_extension(project, extension_dir)
        key = manifest.data.get("key") if isinstance(manifest.data.get("key"), str) else None
        request = BrowserRequest(
            extension_dir=str(extension_dir),
            work_dir=str(work),
            extension_id=extension_id(extension_dir, key),
            service_worker=manifest.service_worker,
            popup=manifest.popup,
            options_page=manifest.options_page,
            content_matches=manifest.content_script_matches(),
            stubs=stubs,
            smoke=smoke,
            screenshot=str(screenshot.resolve()),
            timeout=timeout,
            chromium=chromium,
        )
        request_file, result_file = work / "request.json", work / "result.json"
        request_file.write_text(request.model_dump_json())
        problem = _run_child(request_file, result_file, timeout + GRACE)
        if problem:
            log.warning("%s", problem)
            failure = Failure(check=BROWSER_CHECK, message=problem.splitlines()[0], excerpt=problem)
            return [
                CheckResult(
                    name=BROWSER_CHECK,
                    passed=False,
                    failures=[failure],
                    duration=time.monotonic() - started,
                )
            ]
        return [CheckResult.model_validate(r) for r in json.loads(result_file.read_text())]
