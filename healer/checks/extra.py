"""Checks beside the stacks' own: each decides from the project and the spec whether it
applies, and runs after the install, the stacks' checks and the acceptance tests. Register one
under the entry point group `healer.checks` (see healer.plugins); healer's examples check and
its browser-extension checks are registered that way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from healer.checks.acceptance import Contract
from healer.models import CheckResult
from healer.plugins import Registry
from healer.sandbox.base import Sandbox


@dataclass(frozen=True)
class CheckContext:
    """What a check is given: the project, the sandbox, the spec, and the results so far."""

    project: Path
    sandbox: Sandbox
    timeout: float
    spec_text: str = ""
    contract: Contract | None = None
    results: Sequence[CheckResult] = ()

    def passed(self, name: str) -> bool:
        """Whether every earlier check called `name` passed (true when none ran)."""
        return all(r.passed for r in self.results if r.name == name)


class Check(Protocol):
    name: str

    def applies(self, context: CheckContext) -> bool: ...

    def run(self, context: CheckContext) -> list[CheckResult]: ...


CHECKS: Registry[Check] = Registry("healer.checks", "check")


class ExamplesCheck:
    """The shell sessions the spec shows (`$ command` and its output), run and compared."""

    name = "examples"

    def applies(self, context: CheckContext) -> bool:
        return context.passed("syntax") and context.passed("install")

    def run(self, context: CheckContext) -> list[CheckResult]:
        from healer.checks.spec_checks import examples_check

        return [examples_check(context.project, context.sandbox, context.spec_text,
                               timeout=context.timeout)]


class ExtensionChecks:
    """A Manifest V3 browser extension: its manifest, sources, and a session in Chromium with
    the stubs and smoke steps the spec declares."""

    name = "extension"

    def applies(self, context: CheckContext) -> bool:
        from healer.checks.extension import is_extension

        return is_extension(context.project)

    def run(self, context: CheckContext) -> list[CheckResult]:
        from healer.checks.extension import extension_checks, parse_extension_spec

        declared = parse_extension_spec(context.spec_text)
        return extension_checks(context.project, context.sandbox,
                                timeout=min(context.timeout, 60.0), stubs=declared.stub_map(),
                                smoke_steps=declared.smoke)


EXAMPLES = ExamplesCheck()
EXTENSION = ExtensionChecks()
