"""What each attempt to fake green gets, from healer's acceptance check and, beside it, from
a plain pytest run with the project's own configuration (what a "green" used to rest on).

    python -m benchmarks tamper        (needs Docker; the attacks are tests/test_acceptance_tamper.py,
                                        for Go tests/test_stack_go.py, for Node
                                        tests/test_acceptance_node.py)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from healer.checks import acceptance
from healer.checks.python import pytest_check
from healer.sandbox.docker import DockerSandbox
from healer.stacks import STACKS
from tests.test_acceptance_node import BUGGY, LATE, NODE_ATTACKS, TEST
from tests.test_acceptance_tamper import ATTACKS, TEST_CALC, TEST_OTHER, project
from tests.test_stack_go import GO_ATTACKS, attacked, go_contract, go_project


def _plain(check) -> str:
    return "green" if check.passed else f"red ({check.detail or 'failed'})"


def main() -> str:
    sandbox = DockerSandbox()
    rows = ["| attempt | plain pytest, project's configuration | healer's acceptance check |",
            "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        user = Path(tmp) / "user"
        user.mkdir()
        (user / "test_calc.py").write_text(TEST_CALC)
        (user / "test_other.py").write_text(TEST_OTHER)
        contract = acceptance.collect({"test_calc.py": user / "test_calc.py",
                                       "test_other.py": user / "test_other.py"},
                                      sandbox, timeout=60)
        for i, (name, (files, _)) in enumerate([("no attempt (add is wrong)", ({}, "")),
                                                *ATTACKS.items()]):
            root = project(Path(tmp) / str(i), files)
            plain = pytest_check(root, sandbox, 60)
            check = acceptance.run(root, contract, sandbox, timeout=60)
            why = next((f.message for f in check.failures
                        if "tampered" in f.message or "report" in f.message
                        or "collected" in f.message), "")
            verdict = ("green" if check.passed else "red") + f": {check.detail}"
            rows.append(f"| {name} | {_plain(plain)} | {verdict}"
                        + (f"; {why[:160]}" if why else "") + " |")
    return "\n".join(rows) + "\n\n" + go_rows(sandbox) + "\n\n" + node_rows(sandbox)


def go_rows(sandbox: DockerSandbox) -> str:
    """The same for a Go module: plain `go test` beside healer's Go acceptance run."""
    rows = ["## Go", "", "| attempt | plain `go test -json ./...` | healer's acceptance check |",
            "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        contract = go_contract(go_project(Path(tmp) / "user"), sandbox)
        for i, (name, files) in enumerate([("no attempt (Add is wrong)", {}),
                                           *GO_ATTACKS.items()]):
            root = attacked(Path(tmp) / str(i), files)
            plain = STACKS.get("go").checks(root, sandbox, 60)[-1]
            check = acceptance.run(root, contract, sandbox, timeout=60)
            why = check.failures[0].message if check.failures else ""
            verdict = ("green" if check.passed else "red") + f": {check.detail}"
            rows.append(f"| {name} | {_plain(plain)} | {verdict}"
                        + (f"; {why[:160]}" if why else "") + " |")
    return "\n".join(rows)


def node_rows(sandbox: DockerSandbox) -> str:
    """The same for Node's test runner: plain `node --test` beside healer's acceptance run."""
    rows = ["## Node", "", "| attempt | plain `node --test` | healer's acceptance check |",
            "|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        contracts = {}
        for test in (TEST, LATE):
            user = Path(tmp) / f"user{len(contracts)}"
            user.mkdir()
            (user / "calc.test.js").write_text(test)
            contracts[test] = acceptance.collect({"calc.test.js": user / "calc.test.js"},
                                                 sandbox, timeout=60)
        for i, (name, (calc, test)) in enumerate([("no attempt (add is wrong)", (BUGGY, TEST)),
                                                  *NODE_ATTACKS.items()]):
            root = Path(tmp) / str(i)
            root.mkdir()
            (root / "calc.test.js").write_text(test)
            (root / "package.json").write_text('{"name": "calc"}\n')
            (root / "calc.js").write_text(calc)
            plain = sandbox.run(root, "node --test calc.test.js", timeout=60)
            check = acceptance.run(root, contracts[test], sandbox, timeout=60)
            why = check.failures[0].message if check.failures else ""
            verdict = ("green" if check.passed else "red") + f": {check.detail}"
            rows.append(f"| {name} | {'green' if plain.ok else 'red'} | {verdict}"
                        + (f"; {why[:160]}" if why else "") + " |")
    return "\n".join(rows)
