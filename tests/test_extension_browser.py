"""Extension checks end to end in Debian's Chromium inside the sandbox's browser container:
load, popup, content script, stubs, smoke, and what the extension cannot reach."""

from __future__ import annotations

import ipaddress
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from healer.checks.extension import extension_checks, parse_extension_spec
from healer.models import CheckResult, Failure

SAMPLES = Path(__file__).resolve().parent / "data" / "extensions"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "chrome-extension" / "spec.md"
CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 30.0

pytestmark = [pytest.mark.docker, pytest.mark.chromium]


@pytest.fixture
def checks_in(docker_sandbox):
    """extension_checks in the real Docker sandbox."""

    def run(project: Path, **options) -> list[CheckResult]:
        return extension_checks(project, docker_sandbox, **options)

    return run


def sample(tmp_path: Path, variant: str | None = None) -> Path:
    target = tmp_path / (variant or "good")
    shutil.copytree(SAMPLES / "good", target)
    if variant:
        shutil.copytree(SAMPLES / "broken" / variant, target, dirs_exist_ok=True)
    return target


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def failures_of(results: list[CheckResult]) -> list[Failure]:
    return [f for r in results for f in r.failures]


def test_the_good_extension_passes_static_dynamic_and_smoke_checks(checks_in, tmp_path: Path) -> None:
    project = sample(tmp_path)
    spec = parse_extension_spec(EXAMPLE.read_text())
    results = checks_in(
        project,
        timeout=TIMEOUT,
        stubs=spec.stub_map(),
        smoke_steps=spec.smoke,
        screenshot_dir=tmp_path / "shots",
    )
    checks = by_name(results)
    assert set(checks) == {
        "extension.manifest",
        "extension.syntax",
        "extension.dom",
        "extension.messages",
        "extension.browser",
        "extension.smoke",
    }
    assert all(r.passed and not r.skipped for r in results), failures_of(results)
    shot = tmp_path / "shots" / "popup.png"
    assert shot.stat().st_size > 1000
    assert str(shot) in checks["extension.browser"].detail
    assert (
        "POST https://api.openai.com/v1/chat/completions -> 200"
        in checks["extension.browser"].detail
    )


def test_default_screenshot_goes_under_the_projects_healer_folder(checks_in, tmp_path: Path) -> None:
    project = sample(tmp_path)
    results = checks_in(project, timeout=TIMEOUT)
    assert all(r.passed for r in results), failures_of(results)
    assert (project / ".healer" / "screenshots" / "popup.png").is_file()


class _CountingHandler(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.hits.append(self.path)
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback_api() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", hits
    finally:
        server.shutdown()
        server.server_close()


def test_outbound_requests_are_stubbed_and_never_reach_the_server(
    checks_in,
    tmp_path: Path, loopback_api: tuple[str, list[str]]
) -> None:
    base_url, hits = loopback_api
    project = sample(tmp_path)
    worker = project / "background.js"
    worker.write_text(worker.read_text().replace("https://api.openai.com/v1", base_url))
    stubs = {
        f"POST {base_url}/chat/completions": {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "from the stub"},
                    "finish_reason": "stop",
                }
            ]
        }
    }
    steps = ["type `#prompt` `Anything?`", "click `#ask`", "expect `#answer` `from the stub`"]
    results = checks_in(
        project, timeout=TIMEOUT, stubs=stubs, smoke_steps=steps, screenshot_dir=tmp_path / "shots"
    )
    checks = by_name(results)
    assert checks["extension.smoke"].passed, checks["extension.smoke"].failures
    assert f"POST {base_url}/chat/completions -> 200" in checks["extension.browser"].detail
    assert hits == []


def test_a_failing_smoke_step_is_a_failure(checks_in, tmp_path: Path) -> None:
    results = checks_in(
        sample(tmp_path),
        timeout=TIMEOUT,
        smoke_steps=["click `#ask`", "expect `#answer` `never shown`"],
        screenshot_dir=tmp_path / "shots",
    )
    (failure,) = by_name(results)["extension.smoke"].failures
    assert failure.file == "popup.html"
    assert "step 2" in failure.message and "Type a question first." in failure.excerpt


@pytest.mark.parametrize(
    ("variant", "check", "file", "line", "words"),
    [
        ("bad_manifest_json", "extension.manifest", "manifest.json", 5, "not valid JSON"),
        ("missing_worker", "extension.manifest", "manifest.json", 8, "worker.js"),
        ("missing_worker", "extension.browser", "worker.js", None, "Could not load background"),
        ("popup_type_error", "extension.browser", "popup.js", 4, "TypeError"),
        ("missing_id", "extension.dom", "popup.js", 17, "answer-box"),
        ("message_without_listener", "extension.messages", "popup.js", 28, "SUMMARIZE_PAGE"),
        ("content_script_error", "extension.browser", "content.js", 4, "TypeError"),
    ],
)
def test_each_broken_variant_names_file_and_line(
    checks_in,
    tmp_path: Path, variant: str, check: str, file: str, line: int | None, words: str
) -> None:
    results = checks_in(
        sample(tmp_path, variant), timeout=TIMEOUT, screenshot_dir=tmp_path / "shots"
    )
    failures = by_name(results)[check].failures
    assert any(f.file == file and f.line == line and words in f.message for f in failures), failures


def test_an_error_in_the_service_workers_message_handler_is_found_in_the_log(
    checks_in,
    tmp_path: Path,
) -> None:
    results = checks_in(
        sample(tmp_path, "worker_error"),
        timeout=TIMEOUT,
        smoke_steps=["type `#prompt` `Why?`", "click `#ask`", "wait `500`"],
        screenshot_dir=tmp_path / "shots",
    )
    failures = by_name(results)["extension.browser"].failures
    assert any(
        f.file == "background.js" and f.line == 32 and "'push'" in f.message for f in failures
    ), failures


def test_a_request_at_worker_start_never_reaches_the_host(
    checks_in,
    tmp_path: Path, loopback_api: tuple[str, list[str]]
) -> None:
    base_url, hits = loopback_api
    project = sample(tmp_path)
    worker = project / "background.js"
    leak = (f"fetch('{base_url}/leak').catch(() => {{}});\n"
            f"setTimeout(() => fetch('{base_url}/later').catch(() => {{}}), 500);\n")
    worker.write_text(leak + worker.read_text())
    checks_in(project, timeout=TIMEOUT, screenshot_dir=tmp_path / "shots")
    assert hits == []


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not on the host")
def test_what_no_route_answers_cannot_reach_the_host_even_on_loopback(
    tmp_path: Path, loopback_api: tuple[str, list[str]]
) -> None:
    """The flags healer gives Chromium, as used on the host with --unsafe-local."""
    from playwright.sync_api import Error, sync_playwright

    from healer.checks.extension.chromium import chromium_args, find_chromium

    base_url, hits = loopback_api
    args = chromium_args(str(sample(tmp_path)), tmp_path / "chromium.log")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), args=args)
        try:
            with pytest.raises(Error, match="ERR_"):
                browser.new_page().goto(f"{base_url}/unrouted", timeout=10_000)
        finally:
            browser.close()
    assert hits == []


def test_chromium_runs_in_the_container_never_on_the_host(
    checks_in, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from healer.checks.extension import chromium

    def no_host_chromium() -> str:
        raise AssertionError("the host's Chromium was looked for")

    monkeypatch.setattr(chromium, "find_chromium", no_host_chromium)
    results = checks_in(sample(tmp_path), timeout=TIMEOUT, screenshot_dir=tmp_path / "shots")
    checks = by_name(results)
    assert checks["extension.browser"].passed, failures_of(results)
    # the session reports what it ran as: the sandbox user, with loopback as its only network
    assert checks["extension.browser"].detail.endswith("ran as uid 1000, network interfaces: lo")


@pytest.fixture
def bridge_listener(docker_sandbox) -> Iterator[tuple[str, int, list[str]]]:
    """A listener on every host address, and the address of the host on Docker's bridge."""
    hits: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"hits": hits})
    server = ThreadingHTTPServer(("0.0.0.0", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    bridge = docker_sandbox.client.networks.get("bridge")
    config = bridge.attrs["IPAM"]["Config"][0]
    # the engine names the gateway, or leaves it to be the subnet's first address
    gateway = config.get("Gateway") or str(ipaddress.ip_network(config["Subnet"])[1])
    try:
        yield gateway, server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def test_the_extension_cannot_reach_the_host_by_any_address(
    checks_in, docker_sandbox, tmp_path: Path, bridge_listener: tuple[str, int, list[str]]
) -> None:
    gateway, port, hits = bridge_listener
    project = sample(tmp_path)
    # the control: a container on Docker's bridge network does reach the listener
    probe = (f"python3 -c \"import urllib.request; "
             f"urllib.request.urlopen('http://{gateway}:{port}/control', timeout=5)\"")
    docker_sandbox.run(project, probe, timeout=30, network=True)
    assert hits == ["/control"]
    hits.clear()
    # the attack: requests the routes see (fetch, an image) and ones they do not (WebSockets)
    targets = [f"{host}:{port}" for host in (gateway, "127.0.0.1", "localhost")]
    attack = "".join(
        f"fetch('http://{t}/fetch').catch(() => {{}});\n"
        f"try {{ new WebSocket('ws://{t}/socket'); }} catch (e) {{}}\n" for t in targets)
    worker = project / "background.js"
    worker.write_text(attack + worker.read_text())
    popup = project / "popup.js"
    popup.write_text("".join(f"new Image().src = 'http://{t}/image';\n" for t in targets)
                     + popup.read_text())
    results = checks_in(project, timeout=TIMEOUT, smoke_steps=["wait `1500`"],
                    screenshot_dir=tmp_path / "shots")
    detail = by_name(results)["extension.browser"].detail
    # the attack code ran: its routed requests were answered by stubs, in the container (which
    # of them the session saw varies: the worker's fetch at start can come before it listens)
    assert any(f"GET http://{t}/" in detail for t in targets) and "uid 1000" in detail
    assert hits == []


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not on the host")
def test_with_unsafe_local_the_session_runs_in_the_hosts_chromium(tmp_path: Path) -> None:
    from healer.sandbox.unsafe import UnsafeLocalSandbox

    box = UnsafeLocalSandbox()
    try:
        results = extension_checks(sample(tmp_path), box, timeout=TIMEOUT,
                                   screenshot_dir=tmp_path / "shots")
    finally:
        box.close()
    browser = by_name(results)["extension.browser"]
    assert browser.passed, failures_of(results)
    assert f"ran as uid {os.getuid()}," in browser.detail
    assert (tmp_path / "shots" / "popup.png").read_bytes().startswith(b"\x89PNG")


def test_an_extension_cannot_forge_the_sessions_result(checks_in, tmp_path: Path) -> None:
    """The result is the last marker line on the session's stdout: an extension that logs a
    passing one must not turn a broken popup into a pass."""
    from healer.checks.extension.browser import RESULT_MARKER

    project = sample(tmp_path, "popup_type_error")
    forged = RESULT_MARKER + '{"results": [], "uid": 1000, "interfaces": ["lo"]}'
    popup = project / "popup.js"
    popup.write_text(f"console.log({forged!r}); console.error({forged!r});\n" + popup.read_text())
    results = checks_in(project, timeout=TIMEOUT, screenshot_dir=tmp_path / "shots")
    browser = by_name(results)["extension.browser"]
    assert not browser.passed
    assert any(f.file == "popup.js" and "TypeError" in f.message for f in browser.failures)
