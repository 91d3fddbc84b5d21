"""The browser run's plumbing without a browser: which sandbox runs it, and what comes back.

The sandboxes here are stand-ins that answer `run_browser` with a chosen output, so each
case shows what healer makes of a session's answer, whatever the extension did to it.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

from healer.checks.extension.browser import RESULT_MARKER, SHOT_PLACEHOLDER
from healer.checks.extension.dynamic import browser_checks
from healer.checks.extension.manifest import manifest_check
from healer.models import CheckResult, RunResult

SAMPLES = Path(__file__).resolve().parent / "data" / "extensions"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class Answering:
    """A sandbox whose browser session prints `stdout`; it records the folder it was given."""

    name = "stand-in"

    def __init__(self, stdout: str, exit_code: int = 0) -> None:
        self.stdout, self.exit_code = stdout, exit_code
        self.seen: list[str] = []

    def run_browser(self, folder: Path, *, timeout: float) -> RunResult:
        self.seen = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
        return RunResult(exit_code=self.exit_code, stdout=self.stdout)


class NoBrowser:
    name = "bwrap"


def envelope(screenshot: bytes | None = PNG, **fields) -> str:
    result = CheckResult(name="extension.browser", passed=True,
                         detail=f"popup screenshot: {SHOT_PLACEHOLDER}")
    body = {"results": [result.model_dump(mode="json")], "uid": 1000, "interfaces": ["lo"],
            "screenshot": base64.b64encode(screenshot).decode() if screenshot else None,
            **fields}
    return "chromium noise\n" + RESULT_MARKER + json.dumps(body) + "\n"


def run(tmp_path: Path, sandbox) -> list[CheckResult]:
    project = tmp_path / "ext"
    shutil.copytree(SAMPLES / "good", project)
    _, manifest = manifest_check(project)
    return browser_checks(project, manifest, sandbox=sandbox, timeout=5, stubs=[], smoke=[],
                          screenshot=tmp_path / "shots" / "popup.png")


def test_a_sandbox_without_a_browser_leaves_the_run_out_and_says_why(tmp_path: Path) -> None:
    (result,) = run(tmp_path, NoBrowser())
    assert result.skipped and not result.passed
    assert "bwrap sandbox cannot run Chromium" in result.detail and "Docker" in result.detail


def test_the_session_gets_the_request_and_a_copy_of_the_extension(tmp_path: Path) -> None:
    sandbox = Answering(envelope())
    (result,) = run(tmp_path, sandbox)
    assert result.passed
    assert "request.json" in sandbox.seen and "extension/manifest.json" in sandbox.seen
    shot = tmp_path / "shots" / "popup.png"
    assert shot.read_bytes() == PNG
    assert result.detail == f"popup screenshot: {shot}; ran as uid 1000, network interfaces: lo"


def test_a_symlink_in_the_extension_is_never_followed_on_the_host(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret\n")
    sandbox = Answering(envelope())
    project = tmp_path / "ext"
    shutil.copytree(SAMPLES / "good", project)
    (project / "leak.js").symlink_to(secret)
    _, manifest = manifest_check(project)

    copies: list[str] = []

    def look(folder: Path, *, timeout: float) -> RunResult:
        link = folder / "extension" / "leak.js"
        copies.append("link" if link.is_symlink() else link.read_text())
        return RunResult(exit_code=0, stdout=envelope())

    sandbox.run_browser = look
    browser_checks(project, manifest, sandbox=sandbox, timeout=5, stubs=[], smoke=[],
                   screenshot=tmp_path / "shots" / "popup.png")
    assert copies == ["link"]  # a link (dangling in the container), never the host file's text


def test_a_screenshot_that_is_not_a_png_is_not_written(tmp_path: Path) -> None:
    (result,) = run(tmp_path, Answering(envelope(screenshot=b"#!/bin/sh\nrm -rf ~\n")))
    assert not (tmp_path / "shots" / "popup.png").exists()
    assert result.detail.startswith("popup screenshot: none")


def test_garbage_from_the_session_is_a_clear_failure(tmp_path: Path) -> None:
    answers = {
        "no result line": Answering("Segmentation fault\n", exit_code=139),
        "not JSON": Answering(RESULT_MARKER + "{not json\n"),
        "a JSON list": Answering(RESULT_MARKER + "[1, 2]\n"),
        "results of the wrong shape": Answering(RESULT_MARKER + json.dumps(
            {"results": [{"name": 3}]}) + "\n"),
    }
    for number, (label, sandbox) in enumerate(answers.items()):
        (result,) = run(tmp_path / str(number), sandbox)
        assert not result.passed and not result.skipped, label
        assert result.failures[0].message.startswith("the browser check"), label

