"""Syntax of every script (`node --check`) and every JSON file of the extension."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from healer.checks.extension.sources import is_module, project_files, read_text
from healer.models import CheckResult, Failure

CHECK = "extension.syntax"
NODE_TIMEOUT = 20.0
PARALLEL = 4
_LOCATION = re.compile(r"^(?P<path>.+?):(?P<line>\d+)\s*$")
_ERROR_LINE = re.compile(r"^\w*Error\b.*$", re.MULTILINE)

log = logging.getLogger(__name__)


def find_node() -> str | None:
    return os.environ.get("HEALER_NODE") or shutil.which("node") or shutil.which("nodejs")


def _node_check(
    node: str, script: Path, as_module: bool, scratch: Path
) -> subprocess.CompletedProcess:
    target = script
    if as_module:
        target = scratch / (script.stem + ".mjs")
        shutil.copyfile(script, target)
    return subprocess.run(
        [node, "--check", str(target)],
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
        check=False,
    )


def _failure_from_node(rel: str, output: str) -> Failure:
    lines = output.strip().splitlines()
    line = None
    if lines:
        location = _LOCATION.match(lines[0])
        if location:
            line = int(location.group("line"))
    error = _ERROR_LINE.search(output)
    message = error.group(0) if error else (lines[-1] if lines else "node --check failed")
    excerpt = (
        "\n".join(lines[:6]).replace(lines[0], f"{rel}:{line}") if line else "\n".join(lines[:6])
    )
    return Failure(check=CHECK, file=rel, line=line, message=message, excerpt=excerpt)


def _check_one(project: Path, rel: str, node: str, scratch: Path) -> Failure | None:
    path = project / rel
    module_dir = scratch / rel.replace("/", "__")  # one folder per file: same stems never clash
    module_dir.mkdir()
    try:
        done = _node_check(node, path, is_module(read_text(project, rel)), module_dir)
    except subprocess.TimeoutExpired:
        return Failure(check=CHECK, file=rel, message="node --check timed out")
    return _failure_from_node(rel, done.stderr or done.stdout) if done.returncode else None


def script_failures(project: Path, node: str) -> list[Failure]:
    scripts = project_files(project, ".js")
    with (
        tempfile.TemporaryDirectory(prefix="healer-syntax-") as scratch,
        ThreadPoolExecutor(max_workers=PARALLEL) as pool,
    ):
        found = pool.map(lambda rel: _check_one(project, rel, node, Path(scratch)), scripts)
        return [f for f in found if f is not None]


def json_failures(project: Path) -> list[Failure]:
    failures = []
    for rel in project_files(project, ".json"):
        if rel == "manifest.json" or rel.startswith("package-lock"):
            continue  # the manifest check reports manifest.json itself
        try:
            json.loads(read_text(project, rel))
        except json.JSONDecodeError as exc:
            failures.append(
                Failure(
                    check=CHECK,
                    file=rel,
                    line=exc.lineno,
                    message=f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                )
            )
    return failures


def syntax_check(project: Path) -> CheckResult:
    started = time.monotonic()
    node = find_node()
    failures = json_failures(project)
    detail = ""
    if node:
        failures = script_failures(project, node) + failures
    else:
        detail = "node not found: scripts were not syntax-checked"
        log.warning(detail)
    return CheckResult(
        name=CHECK,
        passed=not failures,
        command="node --check" if node else None,
        failures=failures,
        duration=time.monotonic() - started,
        detail=detail,
    )
