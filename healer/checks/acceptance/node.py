"""Acceptance tests for Node's own test runner (`node:test`): ids read from the test files,
each file run on its own with a TAP report written to a fresh file, the report judged by id.

A test file runs in its own process; what the project prints does not enter the report,
which the runner writes to a file of healer's choosing. A file that exits early leaves its
ids unreported, and those count as failing.
"""

from __future__ import annotations

import re
import shlex

from healer.checks.locations import project_path
from healer.checks.logs import trim
from healer.models import Failure

SUFFIXES = (".js", ".mjs", ".cjs")
MARKER = "=====healer-node-tap"
CHANGED = "changed"  # the marker's rc when a file was not the user's any more
_CALL = re.compile(r"""\b(?:test|it)(?:\.(?:only|skip|todo))?\(\s*(['"`])((?:(?!\1).)+)\1""")
_RESULT = re.compile(r"^(\s*)(ok|not ok) \d+ - (.*?)(?:\s+#\s*(SKIP|TODO)\b.*)?$")
_LOCATION = re.compile(r"location: '(?:/work/)?([^':]+):(\d+):\d+'")


def is_node_test(rel: str) -> bool:
    return rel.endswith(SUFFIXES)


def static_ids(rel: str, source: str) -> list[str]:
    """`file::name` for every `test("name", ...)` and `it("name", ...)` of the file."""
    return [f"{rel}::{m.group(2)}" for m in _CALL.finditer(source)]


def command(files: dict[str, str]) -> str:
    """Each file (path -> sha256) with `node --test-reporter=tap`, the report after a marker
    naming the file. A file whose content is no longer the user's (code required by an
    earlier file may rewrite a later one) is not run, and its marker says so."""
    steps = ["d=$(mktemp -d) || exit 125", "status=0"]
    for i, (rel, digest) in enumerate(sorted(files.items())):
        quoted = shlex.quote(rel)
        steps.append(
            f"if echo {shlex.quote(f'{digest}  {rel}')} | sha256sum -c --status; then "
            f"node --test-reporter=tap --test-reporter-destination=\"$d/{i}.tap\" {quoted} "
            f">/dev/null 2>\"$d/{i}.err\"; rc=$?; else rc={CHANGED}; fi; "
            f"[ \"$rc\" = 0 ] || status=1; "
            f"echo; echo '{MARKER}' {quoted} \"rc=$rc\"; cat \"$d/{i}.tap\" 2>/dev/null; "
            f"echo '{MARKER}-stderr'; tail -c 3000 \"$d/{i}.err\" 2>/dev/null"
        )
    steps.append("exit $status")
    return "\n".join(steps)


def _blocks(lines: list[str], start: int) -> list[str]:
    """The YAML block after a result line, if any."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    block = []
    for line in lines[start + 1:]:
        if line.strip() == "---":
            continue
        if line.strip() == "...":
            break
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        block.append(line)
    return block


def _error(block: list[str]) -> str:
    """The error of a failed test's YAML block, with its expected and actual values."""
    stripped = [b.strip() for b in block]
    error = ""
    for i, line in enumerate(stripped):
        if line.startswith("error:"):
            error = line[len("error:"):].strip().strip("'")
            if error in ("|-", "|", ">-", ">") and i + 1 < len(stripped):
                error = stripped[i + 1]
            break
    values = [line for line in stripped if line.startswith(("expected:", "actual:"))]
    return "; ".join([error, *values]) if values else error


def parse(stdout: str) -> tuple[dict[str, list[str]], list[Failure], dict[str, str]]:
    """(id -> outcomes, failures of failed tests, file -> its stderr tail) from the output."""
    outcomes: dict[str, list[str]] = {}
    failures: list[Failure] = []
    stderr: dict[str, str] = {}
    for chunk in stdout.split(f"\n{MARKER} ")[1:]:
        head, _, body = chunk.partition("\n")
        rel, _, code = head.rpartition(" rc=")
        rel = rel.strip()
        if code.strip() == CHANGED:
            failures.append(Failure(check="acceptance", file=rel, message=(
                f"the acceptance run was tampered with: acceptance test {rel} was changed "
                "before it ran; none of its tests counts")))
            continue
        tap, _, err = body.partition(f"{MARKER}-stderr")
        stderr[rel] = err.strip()
        lines = tap.splitlines()
        for i, line in enumerate(lines):
            match = _RESULT.match(line)
            if not match:
                continue
            block = _blocks(lines, i)
            if any("type: 'suite'" in b for b in block):
                continue
            test_id = f"{rel}::{match.group(3).strip()}"
            if match.group(4):
                outcome = "skipped"
            else:
                outcome = "passed" if match.group(2) == "ok" else "failed"
            outcomes.setdefault(test_id, []).append(outcome)
            if outcome == "failed":
                text = "\n".join(b.strip() for b in block)
                where = _LOCATION.search(text)
                failures.append(Failure(
                    check="acceptance", message=f"{test_id} failed: {_error(block)[:300]}",
                    file=project_path(where.group(1)) if where else rel,
                    line=int(where.group(2)) if where else None, excerpt=trim(text)))
    return outcomes, failures, stderr
