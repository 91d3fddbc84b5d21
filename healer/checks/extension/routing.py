"""Where the extension's requests go in the browser check: nowhere outside.

Every http(s) request is answered here: the fabricated test page (where content scripts run)
for the test URLs, else a declared stub or a default answer (see stubs). What the routes do
not see goes nowhere either, loopback included: Chromium is started with NETWORK_FLAGS (no
name resolves, and every connection would go through a proxy at a reserved address); and in
the Docker sandbox the browser container has no network at all.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError

from healer.checks.extension.spec import Stub
from healer.checks.extension.stubs import choose_response

log = logging.getLogger(__name__)

DEFAULT_TEST_URL = "https://example.com/healer-test-page"
TEST_PAGE = (Path(__file__).resolve().parent / "assets" / "test_page.html").read_text(
    encoding="utf-8")
NETWORK_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=socks5://192.0.2.1:9",
    "--proxy-bypass-list=<-loopback>",
)


def concrete_url(pattern: str) -> str | None:
    """A URL a content-script match pattern accepts (None for patterns we cannot serve)."""
    if pattern in ("<all_urls>", "*://*/*"):
        return DEFAULT_TEST_URL
    match = re.match(r"^(\*|https?)://([^/]*)(/.*)?$", pattern)
    if not match:
        return None
    scheme = "https" if match.group(1) == "*" else match.group(1)
    host = match.group(2)
    if host == "*" or not host:
        host = "example.com"
    elif host.startswith("*."):
        host = "www." + host[2:]
    path = (match.group(3) or "/").replace("*", "")
    return f"{scheme}://{host}{path or '/'}"



class Router:
    """Answers every request of the browser context; keeps what it stubbed."""

    def __init__(self, stubs: list[Stub]) -> None:
        self.stubs = stubs
        self.test_urls: set[str] = set()  # pages content scripts are run on
        self.stubbed: list[str] = []  # "METHOD URL -> status (source)"

    def route(self, route) -> None:
        try:
            request = route.request
            url = request.url
            if not url.startswith(("http://", "https://")):
                route.continue_()
                return
            if url.split("#")[0] in self.test_urls and request.resource_type == "document":
                route.fulfill(status=200, content_type="text/html", body=TEST_PAGE)
                return
            answer = choose_response(request.method, url, request.post_data, self.stubs)
            self.stubbed.append(f"{request.method} {url} -> {answer.status} ({answer.source})")
            route.fulfill(
                status=answer.status,
                content_type=answer.content_type,
                body=answer.body,
                headers=answer.headers,
            )
        except (PlaywrightError, ValueError) as exc:  # never raise into Playwright's loop
            log.debug("route handling failed for %s: %s", route.request.url, exc)
            with contextlib.suppress(PlaywrightError):
                route.abort()

