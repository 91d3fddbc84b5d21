"""The spec's smoke steps, run in the popup: click, type, expect (text or visible), wait. The
first step that fails ends the run, with the popup's text as its evidence."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from healer.checks.extension.spec import SmokeStep
from healer.models import Failure

SMOKE_CHECK = "extension.smoke"
STEP_TIMEOUT_MS = 5000


def run_steps(page, steps: list[SmokeStep], popup: str | None,
              remaining_ms: Callable[[float], float]) -> Failure | None:
    """Run `steps` in `page`; the first failure, or None. `remaining_ms(cap)` bounds each step
    by the session's deadline."""
    for number, step in enumerate(steps, 1):
        timeout = remaining_ms(STEP_TIMEOUT_MS)
        try:
            if step.action == "click":
                page.locator(step.selector).first.click(timeout=timeout)
            elif step.action == "type":
                page.locator(step.selector).first.fill(step.text, timeout=timeout)
            elif step.action == "expect" and step.text:
                expect(page.locator(step.selector).first).to_contain_text(step.text,
                                                                          timeout=timeout)
            elif step.action == "expect":
                expect(page.locator(step.selector).first).to_be_visible(timeout=timeout)
            elif step.action == "wait":
                page.wait_for_timeout(min(float(step.text), timeout))
        except (PlaywrightError, AssertionError) as exc:
            return Failure(
                check=SMOKE_CHECK,
                file=popup,
                message=f"smoke step {number} ({step}) failed: {str(exc).strip().splitlines()[0]}",
                excerpt=f"popup text: {_body_text(page)}"[:2000],
            )
    return None


def _body_text(page) -> str:
    try:
        return page.inner_text("body", timeout=1000)[:1000]
    except PlaywrightError:
        return "(unreadable)"
