"""All checks of a Chrome extension: static ones on the host, then a run in Chromium."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from healer.checks.extension.dom import dom_check
from healer.checks.extension.dynamic import browser_checks
from healer.checks.extension.manifest import manifest_check
from healer.checks.extension.messages import messages_check
from healer.checks.extension.spec import SmokeStep, parse_step, stub_from_value
from healer.checks.extension.syntax import syntax_check
from healer.models import CheckResult
from healer.sandbox.base import Sandbox
from healer.workspace import POPUP_SHOT, SCREENSHOTS, Workspace

log = logging.getLogger(__name__)


def _steps(smoke_steps: list[Any] | None) -> list[SmokeStep]:
    steps = []
    for step in smoke_steps or []:
        if isinstance(step, SmokeStep):
            steps.append(step)
        elif isinstance(step, dict):
            steps.append(SmokeStep.model_validate(step))
        else:
            steps.append(parse_step(str(step)))
    return steps


def extension_checks(
    project: Path,
    sandbox: Sandbox,
    *,
    timeout: float = 60.0,
    stubs: dict | None = None,
    smoke_steps: list | None = None,
    screenshot_dir: Path | None = None,
) -> list[CheckResult]:
    """Static checks (manifest, syntax, DOM ids, messages), then the browser run in `sandbox`.

    `stubs` maps a URL glob (optionally "METHOD glob") to a response body (text, a JSON-able
    value, or a Stub). `smoke_steps` are SmokeSteps or step texts such as "click #go".
    The browser run is skipped when the manifest cannot be read at all.
    """
    project = Path(project)
    manifest_result, manifest = manifest_check(project)
    content_scripts = set(manifest.content_script_files()) if manifest else set()
    results = [
        manifest_result,
        syntax_check(project),
        dom_check(project, content_scripts),
        messages_check(project),
    ]
    if manifest is None:
        return [*results, CheckResult(name="extension.browser", passed=False, skipped=True,
                                      detail="not run: manifest.json cannot be read")]
    shots = Path(screenshot_dir) if screenshot_dir else Workspace(project).state / SCREENSHOTS
    results += browser_checks(project, manifest, sandbox=sandbox, timeout=timeout,
                              stubs=[stub_from_value(k, v) for k, v in (stubs or {}).items()],
                              smoke=_steps(smoke_steps), screenshot=shots / POPUP_SHOT)
    for result in results:
        log.info("%s: %s (%d failure(s))", result.name,
                 "passed" if result.passed else "failed", len(result.failures))
    return results
