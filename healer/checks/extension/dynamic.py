"""The browser run of an extension check: the session goes to the sandbox, its results come back.

The sandbox runs `healer.checks.extension.browser` over a folder holding the request and a
copy of the extension: the Docker sandbox in its browser container (no network, uid 1000,
read-only root, limits), the unsafe-local one on the host. A sandbox that cannot run Chromium
(bubblewrap) leaves the browser run out, and says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import tempfile
import time
from pathlib import Path

from pydantic import ValidationError

from healer.checks.extension.browser import (
    BROWSER_CHECK,
    EXTENSION_DIR,
    REQUEST_FILE,
    RESULT_MARKER,
    SHOT_PLACEHOLDER,
    BrowserRequest,
)
from healer.checks.extension.manifest import Manifest
from healer.checks.extension.spec import SmokeStep, Stub
from healer.errors import SandboxError
from healer.models import CheckResult, Failure, RunResult
from healer.sandbox.project import copy_project

GRACE = 40.0  # seconds for the container and Chromium to start and stop, beyond the session's
MAX_SHOT_BYTES = 4 * 2**20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

log = logging.getLogger(__name__)


def _skipped(reason: str) -> CheckResult:
    return CheckResult(name=BROWSER_CHECK, passed=False, skipped=True, detail=reason)


def _failed(problem: str, started: float) -> list[CheckResult]:
    log.warning("%s", problem)
    failure = Failure(check=BROWSER_CHECK, message=problem.splitlines()[0], excerpt=problem)
    return [CheckResult(name=BROWSER_CHECK, passed=False, failures=[failure],
                        duration=time.monotonic() - started)]


def _envelope(result: RunResult, timeout: float) -> dict | str:
    """The session's result envelope from its output, or why there is none."""
    if result.timed_out:
        return f"the browser check did not finish within {timeout:.0f} s and was killed"
    lines = [line for line in result.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if result.exit_code != 0 or not lines:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        return f"the browser check crashed (exit {result.exit_code}):\n{tail}"
    try:
        envelope = json.loads(lines[-1][len(RESULT_MARKER):])
    except json.JSONDecodeError:
        return "the browser check's result could not be read"
    return envelope if isinstance(envelope, dict) else "the browser check's result is not an object"


def _keep_shot(envelope: dict, screenshot: Path) -> str:
    """Write the session's screenshot where the caller keeps it: its path, or 'none'."""
    try:
        data = base64.b64decode(envelope.get("screenshot") or "", validate=True)
    except (binascii.Error, TypeError, ValueError):
        return "none"
    if not data.startswith(PNG_SIGNATURE) or len(data) > MAX_SHOT_BYTES:
        return "none"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.write_bytes(data)
    return str(screenshot)


def _results(envelope: dict, screenshot: Path) -> list[CheckResult]:
    shot = _keep_shot(envelope, screenshot)
    ran = (f"; ran as uid {envelope.get('uid')}, network interfaces: "
           f"{', '.join(map(str, envelope.get('interfaces') or [])) or 'none'}")
    results = [CheckResult.model_validate(r) for r in envelope.get("results") or []]
    return [r.model_copy(update={"detail": r.detail.replace(SHOT_PLACEHOLDER, shot)
                                 + (ran if r.name == BROWSER_CHECK else "")})
            for r in results]


def browser_checks(
    project: Path,
    manifest: Manifest,
    *,
    sandbox,
    timeout: float,
    stubs: list[Stub],
    smoke: list[SmokeStep],
    screenshot: Path,
) -> list[CheckResult]:
    run_browser = getattr(sandbox, "run_browser", None)
    if run_browser is None:
        return [_skipped(f"the {sandbox.name} sandbox cannot run Chromium: extension browser "
                         "checks run in the Docker sandbox")]
    started = time.monotonic()
    key = manifest.data.get("key") if isinstance(manifest.data.get("key"), str) else None
    request = BrowserRequest(
        manifest_key=key,
        service_worker=manifest.service_worker,
        popup=manifest.popup,
        options_page=manifest.options_page,
        content_matches=manifest.content_script_matches(),
        stubs=stubs,
        smoke=smoke,
        timeout=timeout,
    )
    with tempfile.TemporaryDirectory(prefix="healer-extension-") as scratch:
        folder = Path(scratch)
        try:
            copy_project(project, folder / EXTENSION_DIR)
            (folder / REQUEST_FILE).write_text(request.model_dump_json())
            result = run_browser(folder, timeout=timeout + GRACE)
        except SandboxError as exc:
            return _failed(f"the browser check could not run: {exc}", started)
    envelope = _envelope(result, timeout + GRACE)
    if isinstance(envelope, str):
        return _failed(envelope, started)
    try:
        return _results(envelope, screenshot)
    except ValidationError as exc:
        return _failed(f"the browser check's result is malformed: {exc}", started)
