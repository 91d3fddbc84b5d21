"""Acceptance tests for Node's own test runner (`node:test`): ids read from the test files,
each file run on its own under healer's guard (`node_guard.mjs`), its report judged by id.

A test file runs in its own process. The guard loads before the test file and the project's
code: it prints a fresh key on the sandbox's output, locks what decides an outcome, and is the
run's reporter, signing each test's result into a file of healer's choosing. A result that does
not verify with the key printed first, a second key, or a lock the project tried to break,
voids the run; a file whose report has no end (the process exited early) or that did not
load counts none of its tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from healer.checks.locations import project_path
from healer.models import Failure

SUFFIXES = (".js", ".mjs", ".cjs")
MARKER = "=====healer-node-run"
RESULTS = "=====healer-node-results"
STDERR = "=====healer-node-stderr"
CHANGED = "changed"  # the marker's rc when a file was not the user's any more
GUARD = "data:text/javascript;base64," + base64.b64encode(
    (Path(__file__).with_name("node_guard.mjs")).read_bytes()).decode()
_CALL = re.compile(r"""\b(?:test|it)(?:\.(?:only|skip|todo))?\(\s*(['"`])((?:(?!\1).)+)\1""")
_KEY = re.compile(r"^=====healer-node-key ([0-9a-f]{64})=====$")
_SIGNED = re.compile(r"^([0-9a-f]{64}) (\{.*\})$")
_FRAME = re.compile(r"/work/([^\s():]+):(\d+):\d+")


# What an earlier file's code left running is stopped before the next file is checked and run
# (it could rewrite that file after its check); only where the shell is the first process of
# its own process namespace, as in a container, where nothing else of the user's runs.
_LEFTOVERS = '[ "$$" = 1 ] && kill -9 -1 2>/dev/null'


def is_node_test(rel: str) -> bool:
    return rel.endswith(SUFFIXES)


def static_ids(rel: str, source: str) -> list[str]:
    """`file::name` for every `test("name", ...)` and `it("name", ...)` of the file."""
    return [f"{rel}::{m.group(2)}" for m in _CALL.finditer(source)]


def command(files: dict[str, str]) -> str:
    """Each file (path -> sha256) run under the guard: a marker naming it, the guard's key,
    then its signed report and its stderr's tail. A file whose content is no longer the
    user's (code required by an earlier file may rewrite a later one) is not run, and its
    marker says so."""
    steps = ["d=$(mktemp -d) || exit 125", "status=0", f"g={shlex.quote(GUARD)}"]
    for i, (rel, digest) in enumerate(sorted(files.items())):
        quoted = shlex.quote(rel)
        steps.append(
            f"echo; echo '{MARKER}' {quoted}; {_LEFTOVERS}; "
            f"if echo {shlex.quote(f'{digest}  {rel}')} | sha256sum -c --status; then "
            f"node --import \"$g\" --test-reporter=\"$g\" "
            f"--test-reporter-destination=\"$d/{i}.out\" -e '' -- {quoted} {digest} "
            f"3>&1 >/dev/null 2>\"$d/{i}.err\"; rc=$?; else rc={CHANGED}; fi; "
            f"[ \"$rc\" = 0 ] || status=1; "
            f"echo; echo '{RESULTS}' {quoted} \"rc=$rc\"; cat \"$d/{i}.out\" 2>/dev/null; "
            f"echo; echo '{STDERR}'; tail -c 3000 \"$d/{i}.err\" 2>/dev/null"
        )
    steps.append("exit $status")
    return "\n".join(steps)


@dataclass
class NodeRun:
    """What the node part of an acceptance run reported, as far as its signatures hold."""

    outcomes: dict[str, list[str]] = field(default_factory=dict)  # id -> outcomes
    failures: list[Failure] = field(default_factory=list)
    stderr: dict[str, str] = field(default_factory=dict)  # file -> its stderr's tail
    tampered: list[str] = field(default_factory=list)


@dataclass
class _File:
    rel: str
    key: bytes | None = None
    part: str = "run"  # run -> results -> stderr
    stderr: list[str] = field(default_factory=list)
    outcomes: dict[str, list[str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    end: dict | None = None  # the report's last line: it ended, and whether the file loaded
    changed: bool = False


def parse(stdout: str, files: list[str], user_files: Iterable[str] = ()) -> NodeRun:
    """The output of `command` over `files`: each result line checked against its file's key,
    and each test defined in one of the user's files (`files` and `user_files`).
    Anything a run of the guard cannot print (a second marker or key, a result that does not
    verify, a lock the project tried to break) is tampering."""
    run = NodeRun()
    owned = {*files, *user_files}
    current: _File | None = None
    seen: set[str] = set()
    for line in stdout.split("\n"):  # a JSON line may hold U+2028, which splitlines breaks at
        head, _, rest = line.partition(" ")
        if head == MARKER:
            if current is not None:
                _close(run, current)
            if rest not in files or rest in seen:
                run.tampered.append(f"the run of {rest} was announced twice or out of turn")
            seen.add(rest)
            current = _File(rel=rest)
        elif current is None or not line.strip():
            continue
        elif current.part == "run":
            _run_line(run, current, line)
        elif current.part == "results":
            if line == STDERR:
                current.part = "stderr"
            else:
                _result(run, current, line, owned)
        else:
            current.stderr.append(line)
    if current is not None:
        _close(run, current)
    return run


def _close(run: NodeRun, current: _File) -> None:
    """A file's results count only when its report ended and the file loaded."""
    run.stderr[current.rel] = "\n".join(current.stderr).strip()
    if current.changed:
        return
    if current.end is None:
        run.failures.append(Failure(check="acceptance", file=current.rel, message=(
            f"the run of {current.rel} ended before its report did (the process exited or "
            "was stopped early); none of its tests counts")))
    elif not current.end.get("loaded"):
        error = str(current.end.get("error") or "").strip()
        run.failures.append(Failure(
            check="acceptance", file=current.rel, excerpt=error[:2000],
            message=f"{current.rel} did not load: "
            f"{(error.splitlines() or ['an error'])[0][:300]}; none of its tests counts"))
    else:
        for test_id, outcomes in current.outcomes.items():
            run.outcomes.setdefault(test_id, []).extend(outcomes)
        run.failures += current.failures


def _run_line(run: NodeRun, current: _File, line: str) -> None:
    key = _KEY.match(line)
    if key:
        if current.key is not None:
            run.tampered.append(f"a second key was printed in the run of {current.rel}")
        current.key = bytes.fromhex(key.group(1))
        return
    head, _, rest = line.partition(" ")
    if head != RESULTS:
        return
    rel, _, code = rest.rpartition(" rc=")
    if rel != current.rel:
        run.tampered.append(f"the results of {rel} were announced in the run of {current.rel}")
    current.part = "results"
    if code == CHANGED:
        current.changed = True
        run.failures.append(Failure(check="acceptance", file=current.rel, message=(
            f"the acceptance run was tampered with: acceptance test {current.rel} was changed "
            "before it ran; none of its tests counts")))


def _result(run: NodeRun, current: _File, line: str, owned: set[str]) -> None:
    signed = _SIGNED.match(line)
    body = signed.group(2) if signed else ""
    if (signed is None or current.key is None or not hmac.compare_digest(
            signed.group(1), hmac.new(current.key.hex().encode(), body.encode(),
                                      hashlib.sha256).hexdigest())):
        run.tampered.append(f"a result of {current.rel} not signed by healer's guard was "
                            "written to its report")
        return
    record = json.loads(body)
    if "tampered" in record:
        run.tampered.append(str(record["tampered"]))
        return
    if current.end is not None:
        run.tampered.append(f"a result of {current.rel} came after its report's end")
        return
    if record.get("end"):
        current.end = record
        return
    if "name" not in record or record.get("suite"):
        return
    if record.get("file") not in owned:
        run.tampered.append(f"a test named {record['name']!r} was defined in "
                            f"{record.get('file')}, not in an acceptance test file")
        return
    test_id = f"{current.rel}::{record['name']}"
    current.outcomes.setdefault(test_id, []).append(record["outcome"])
    if record["outcome"] == "failed":
        current.failures.append(_failure(current.rel, test_id, record))


def _failure(rel: str, test_id: str, record: dict) -> Failure:
    """A failed test: its error with the expected and actual values, at the first frame in the
    project's code (else the test's own line)."""
    error = str(record.get("error") or "").strip().splitlines()
    message = "; ".join(part for part in [
        error[0].strip() if error else "failed",
        *(f"{k}: {record[k]}" for k in ("expected", "actual") if k in record)] if part)
    stack = str(record.get("stack") or "")
    frame = next((m for m in _FRAME.finditer(stack) if m.group(1) != rel), None)
    return Failure(check="acceptance", message=f"{test_id} failed: {message[:300]}",
                   file=project_path(frame.group(1)) if frame else rel,
                   line=int(frame.group(2)) if frame else record.get("line"),
                   excerpt="\n".join([*error, stack]).strip()[:2000])
