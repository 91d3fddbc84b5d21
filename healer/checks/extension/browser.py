"""Load the unpacked extension in Chromium and collect everything that goes wrong.

Runs in its own process, inside the browser container of the Docker sandbox (or on the host
with --unsafe-local), so that generated code meets Chromium only behind the sandbox:

    python -m healer.checks.extension.browser FOLDER SCRATCH --chromium PATH [--contained]

FOLDER holds `request.json` and the extension (`extension/`); SCRATCH is writable (profile,
Chromium's log, the screenshot). The last line of standard output is the result: RESULT_MARKER
and a JSON envelope (check results, the screenshot as base64, the uid and network interfaces
the session ran with). The session:

1. launches Chromium with only this extension loaded and its own log file;
2. routes every request: chrome-extension:// passes through, the test page is fabricated,
   everything else gets a declared stub or a default answer, so nothing reaches the network
   (a host-resolver rule also makes any escaping lookup fail);
3. waits for the service worker (or for a load error in Chromium's log);
4. opens a test page (content scripts run there), then the popup and the options page as tabs;
   while the popup runs as a tab, `chrome.tabs.query({active: true})` answers with the test
   page's tab, as it would for a real popup;
5. runs the smoke steps in the popup and takes a screenshot;
6. reads Chromium's log for load failures and errors of the service worker.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from pydantic import BaseModel, ConfigDict, Field

from healer.checks.extension import chromium_log
from healer.checks.extension.chromium import chromium_args, extension_id
from healer.checks.extension.routing import Router, concrete_url
from healer.checks.extension.smoke import SMOKE_CHECK, run_steps
from healer.checks.extension.spec import SmokeStep, Stub
from healer.models import CheckResult, Failure

BROWSER_CHECK = "extension.browser"
WORKER_WAIT = 10.0
SETTLE_MS = 400
PAGE_TIMEOUT_MS = 10000
ASSETS = Path(__file__).resolve().parent / "assets"
ACTIVE_TAB_SHIM = (ASSETS / "active_tab_shim.js").read_text(encoding="utf-8")
EXTENSION_DIR = "extension"  # the extension's copy, inside the session folder
REQUEST_FILE = "request.json"
SHOT_FILE = "popup.png"
SHOT_PLACEHOLDER = "<screenshot>"  # in the results' details: where the caller keeps the shot
RESULT_MARKER = "HEALER-BROWSER-RESULT "
_STACK_FRAME = re.compile(r"chrome-extension://[a-p]{32}/([^\s:?#)]+):(\d+)")
_PREFIX = re.compile(r"^(?:Uncaught (?:\(in promise\) )?)?(?:\w*Error: )?")

log = logging.getLogger(__name__)


class BrowserRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    manifest_key: str | None = None  # the manifest's "key", which fixes the extension id
    service_worker: str | None = None
    popup: str | None = None
    options_page: str | None = None
    content_matches: list[str] = Field(default_factory=list)
    stubs: list[Stub] = Field(default_factory=list)
    smoke: list[SmokeStep] = Field(default_factory=list)
    timeout: float = 60.0


@dataclass(frozen=True)
class Where:
    """Where one session runs: its folders and browser."""

    folder: Path  # request.json and extension/ (may be read-only)
    scratch: Path  # writable: profile, Chromium's log, the screenshot
    chromium: str
    contained: bool = False  # inside the browser container, as uid 1000

    @property
    def extension_dir(self) -> Path:
        return self.folder / EXTENSION_DIR


def _normalised(message: str) -> str:
    return _PREFIX.sub("", message.strip().splitlines()[0] if message.strip() else "")[:160]


class Session:
    """One browser run: the context, the deadline and the evidence gathered."""

    def __init__(self, request: BrowserRequest, where: Where) -> None:
        self.request = request
        self.where = where
        self.extension_id = extension_id(where.extension_dir, request.manifest_key)
        self.deadline = time.monotonic() + request.timeout
        self.failures: list[Failure] = []
        self.smoke_failures: list[Failure] = []
        self.smoke_ran = False
        self.router = Router(request.stubs)
        self._seen: set[str] = set()
        self.log_file = where.scratch / "chromium.log"

    # ------------------------------------------------------------ evidence

    def remaining_ms(self, cap: float) -> float:
        return max(min(cap, (self.deadline - time.monotonic()) * 1000), 1.0)

    def add(self, message: str, file: str | None, line: int | None, excerpt: str = "") -> None:
        key = f"{file}|{_normalised(message)}"
        loose = f"None|{_normalised(message)}"
        if key in self._seen or loose in self._seen:
            return
        self._seen.add(key)
        self.failures.append(
            Failure(
                check=BROWSER_CHECK,
                message=self.clean(message.strip().splitlines()[0][:500]),
                file=file,
                line=line,
                excerpt=self.clean(excerpt[:2000]),
            )
        )

    def clean(self, text: str) -> str:
        """Text without the temporary copy's path, so the same failure reads the same twice."""
        return text.replace(str(self.where.extension_dir), "<extension>")

    def on_page_error(self, page_file: str):
        def handle(error) -> None:
            stack = getattr(error, "stack", "") or ""
            frame = _STACK_FRAME.search(stack)
            file, line = (frame.group(1), int(frame.group(2))) if frame else (page_file, None)
            name = getattr(error, "name", "") or "Error"
            self.add(f"{name}: {error.message}", file, line, stack)

        return handle

    def on_console(self, page_file: str):
        def handle(message) -> None:
            if message.type != "error":
                return
            location = message.location or {}
            if location.get("url", "").split("#")[0] in self.router.test_urls:
                return  # the fabricated test page's own noise, not the extension's
            file, _ = chromium_log.extension_file(location.get("url", ""))
            line = location.get("lineNumber")
            self.add(
                f"console.error: {message.text}",
                file or page_file,
                line + 1 if isinstance(line, int) and file else None,
                message.text,
            )

        return handle

    # ------------------------------------------------------------ steps

    def read_log(self) -> list[chromium_log.LogEntry]:
        try:
            return chromium_log.parse_log(self.log_file.read_text(errors="replace"))
        except OSError:
            return []

    def load_failed(self) -> bool:
        return bool(chromium_log.load_errors(self.read_log(), self.request.service_worker))

    def wait_for_worker(self, context) -> bool:
        prefix = f"chrome-extension://{self.extension_id}/"
        wait_until = time.monotonic() + min(WORKER_WAIT, self.request.timeout / 3)
        while time.monotonic() < wait_until:
            if any(w.url.startswith(prefix) for w in context.service_workers):
                return True
            if self.load_failed():
                return False
            with contextlib.suppress(PlaywrightError):
                context.wait_for_event("serviceworker", timeout=300)
        return any(w.url.startswith(prefix) for w in context.service_workers)

    def open_page(self, context, rel: str, *, shim: bool = False):
        page = context.new_page()
        page.on("pageerror", self.on_page_error(rel))
        page.on("console", self.on_console(rel))
        if shim:
            page.add_init_script(ACTIVE_TAB_SHIM)
        url = f"chrome-extension://{self.extension_id}/{rel}"
        try:
            page.goto(url, wait_until="load", timeout=self.remaining_ms(PAGE_TIMEOUT_MS))
            page.wait_for_timeout(min(SETTLE_MS, self.remaining_ms(SETTLE_MS)))
        except PlaywrightError as exc:
            self.add(f"{rel} did not load: {str(exc).splitlines()[0]}", rel, None, str(exc))
        return page

    def visit_test_pages(self, page) -> None:
        urls = [concrete_url(m) for m in self.request.content_matches]
        for url in list(dict.fromkeys(u for u in urls if u))[:3]:
            self.router.test_urls.add(url)
            try:
                page.goto(url, wait_until="load", timeout=self.remaining_ms(PAGE_TIMEOUT_MS))
                page.wait_for_timeout(min(SETTLE_MS, self.remaining_ms(SETTLE_MS)))
            except PlaywrightError as exc:
                self.add(f"test page {url} did not load: {str(exc).splitlines()[0]}", None, None)

    def run_smoke(self, page) -> None:
        self.smoke_ran = True
        failure = run_steps(page, self.request.smoke, self.request.popup, self.remaining_ms)
        if failure is not None:
            self.smoke_failures.append(failure)

    def screenshot(self, page) -> str:
        path = self.where.scratch / SHOT_FILE
        try:
            page.screenshot(path=str(path), timeout=self.remaining_ms(PAGE_TIMEOUT_MS))
            return SHOT_PLACEHOLDER
        except (PlaywrightError, OSError) as exc:
            log.warning("popup screenshot failed: %s", exc)
            return ""

    def collect_log(self) -> None:
        entries = self.read_log()
        for error in chromium_log.load_errors(entries, self.request.service_worker):
            self.add(
                f"Chromium could not load the extension: {error.message}",
                error.file,
                error.line,
                error.excerpt,
            )
        for error in chromium_log.script_errors(entries):
            self.add(error.message, error.file, error.line, error.excerpt)


def run_session(request: BrowserRequest, where: Where) -> list[CheckResult]:
    started = time.monotonic()
    session = Session(request, where)
    shot = ""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(where.scratch / "profile"),
            executable_path=where.chromium,
            headless=True,
            args=chromium_args(str(where.extension_dir), session.log_file,
                               contained=where.contained),
            viewport={"width": 480, "height": 600},
        )
        try:
            shot = _exercise(session, context)
        finally:
            context.close()
    session.collect_log()
    return _results(session, request, shot, time.monotonic() - started)


def _exercise(session: Session, context) -> str:
    request = session.request
    context.route("**/*", session.router.route)
    worker_missing = request.service_worker and not session.wait_for_worker(context)
    if worker_missing and not session.load_failed():
        session.add(
            f"the service worker {request.service_worker} did not start",
            request.service_worker,
            None,
        )
    if session.load_failed():
        return ""
    first = context.pages[0] if context.pages else context.new_page()
    first.on("pageerror", session.on_page_error("(content script)"))
    first.on("console", session.on_console("(content script)"))
    session.visit_test_pages(first)
    shot = ""
    if request.popup:
        popup = session.open_page(context, request.popup, shim=True)
        session.run_smoke(popup)
        popup.wait_for_timeout(min(SETTLE_MS, session.remaining_ms(SETTLE_MS)))
        shot = session.screenshot(popup)
    elif request.smoke:
        session.smoke_failures.append(
            Failure(
                check=SMOKE_CHECK,
                file="manifest.json",
                message="smoke steps need a popup (action.default_popup), the manifest has none",
            )
        )
    if request.options_page:
        session.open_page(context, request.options_page)
    return shot


def _results(
    session: Session, request: BrowserRequest, shot: str, seconds: float
) -> list[CheckResult]:
    stubbed = "; ".join(session.router.stubbed[:20]) or "none"
    detail = (
        f"extension id {session.extension_id}; popup screenshot: {shot or 'none'}; "
        f"content scripts run on: {', '.join(sorted(session.router.test_urls)) or 'none'}; "
        f"{len(session.router.stubbed)} request(s) stubbed: {stubbed}; {seconds:.1f} s"
    )
    results = [
        CheckResult(
            name=BROWSER_CHECK,
            passed=not session.failures,
            failures=session.failures,
            duration=seconds,
            detail=detail,
        )
    ]
    if request.smoke and not session.smoke_ran and not session.smoke_failures:
        session.smoke_failures.append(
            Failure(
                check=SMOKE_CHECK,
                file=request.popup,
                message="smoke steps not run: the extension or its popup did not load",
            )
        )
    if request.smoke:
        results.append(
            CheckResult(
                name=SMOKE_CHECK,
                passed=not session.smoke_failures,
                failures=session.smoke_failures,
                duration=seconds,
                detail=f"{len(request.smoke)} step(s); popup screenshot: {shot or 'none'}",
            )
        )
    return results


def _interfaces() -> list[str]:
    try:
        return sorted(os.listdir("/sys/class/net"))
    except OSError:
        return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="healer.checks.extension.browser")
    parser.add_argument("folder", type=Path)
    parser.add_argument("scratch", type=Path)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--contained", action="store_true")
    args = parser.parse_args(argv)
    args.scratch.mkdir(parents=True, exist_ok=True)
    where = Where(args.folder, args.scratch, args.chromium, args.contained)
    request = BrowserRequest.model_validate_json((args.folder / REQUEST_FILE).read_text())
    results = run_session(request, where)
    shot = where.scratch / SHOT_FILE
    envelope = {
        "results": [r.model_dump(mode="json") for r in results],
        "screenshot": base64.b64encode(shot.read_bytes()).decode() if shot.is_file() else None,
        "uid": os.getuid(),
        "interfaces": _interfaces(),
    }
    print("\n" + RESULT_MARKER + json.dumps(envelope), flush=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main(sys.argv[1:]))
