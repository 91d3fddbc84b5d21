"""The acceptance run as one sandboxed shell command, and the signed report it prints.

The command writes healer's plugin and an empty pytest configuration into a fresh folder,
removes the project's own conftest files from the run's copy (the sandbox copies the project
afresh for every command), and starts pytest so that nothing of the project is loaded first:
`python3 -I` ignores PYTHONPATH and the working directory, installed dependencies come last on
`sys.path`, plugin autoloading is off, and `-c` makes healer's configuration the only one.
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
from importlib import resources

from healer.checks.pytest_report import MARKER as JUNIT_MARKER

PLUGIN_MODULE = "healer_acceptance"
KEY = re.compile(r"=====healer-acceptance-key ([0-9a-f]{64})=====")
REPORT = re.compile(r"=====healer-acceptance-report ([A-Za-z0-9+/=]+) ([0-9a-f]{64})=====")
EOF = "HEALER_ACCEPTANCE_PLUGIN_EOF"
# Puts healer's plugin first, and the project (as `python -m pytest` would) and its dependencies
# after the standard library and pytest on sys.path, then runs pytest.
BOOT = (
    "import os, sys; sys.path.insert(0, os.environ['HEALER_ACCEPTANCE_DIR']); "
    "extra = os.environ.get('PYTHONPATH', '').split(':'); "
    "src = os.path.join(os.getcwd(), 'src'); "
    "sys.path += [os.getcwd()] + ([src] if os.path.isdir(src) else []) + [p for p in extra if p]; "
    "import pytest; raise SystemExit(pytest.main(sys.argv[1:]))"
)


def plugin_source() -> str:
    source = resources.files("healer.checks.acceptance").joinpath("plugin.py")
    return source.read_text(encoding="utf-8")


def _conftest_sweep(keep: Iterable[str]) -> str:
    """Shell that deletes every conftest.py of the run's copy except those in `keep` (a
    symlink named conftest.py too: pytest loads what it points to)."""
    kept = " ".join(shlex.quote(f"./{k}") for k in sorted(keep))
    return ('find . -name conftest.py \\( -type f -o -type l \\) | while read -r f; do '
            f'case " {kept} " in *" $f "*) ;; *) rm -f "$f";; esac; done')


def acceptance_command(files: dict[str, str], *, mode: str, keep_infra: Iterable[str] = ()) -> str:
    """pytest over the acceptance test files among `files` (every acceptance file, test or
    data: rel path -> sha256, which the plugin holds them to) in `mode` "collect" or "run".

    Prints the plugin's key, pytest's output, the signed report and then pytest's JUnit XML.
    """
    if "\n" + EOF in plugin_source():
        raise AssertionError("the plugin source holds its own heredoc terminator")
    keep = [*files, *keep_infra]
    env = {
        "HEALER_ACCEPTANCE_MODE": mode,
        "HEALER_ACCEPTANCE_FILES": json.dumps(files, sort_keys=True),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    # append: the tests' folders go last on sys.path too, so a project file named like a
    # standard-library module (statistics.py) cannot stand in for it in the tests
    args = ["-p", PLUGIN_MODULE, "-p", "no:cacheprovider", "--import-mode=append", "-q", "-rA",
            "-vv", "--tb=short", "-o", "junit_family=xunit1"]
    if mode == "collect":
        args.append("--collect-only")
    targets = " ".join(shlex.quote(f) for f in sorted(files) if f.endswith(".py"))
    return "\n".join([
        'd=$(mktemp -d) || exit 125',
        f"cat > \"$d/{PLUGIN_MODULE}.py\" <<'{EOF}'",
        plugin_source().rstrip("\n"),
        EOF,
        "printf '[pytest]\\n' > \"$d/pytest.ini\"",
        _conftest_sweep(keep),
        (f"HEALER_ACCEPTANCE_DIR=\"$d\" HEALER_ACCEPTANCE_ROOT=\"$PWD\" {assignments} "
        f"python3 -I -c {shlex.quote(BOOT)} {' '.join(args)} -c \"$d/pytest.ini\" "
        f"--rootdir=\"$PWD\" --junitxml=\"$d/junit.xml\" {targets}"),
        "status=$?",
        f"echo; echo '{JUNIT_MARKER}'; cat \"$d/junit.xml\" 2>/dev/null; exit $status",
    ])


@dataclass
class SignedReport:
    """What the plugin reported, once its signature is verified."""

    collected: list[str] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)  # nodeid -> passed/failed/...
    errors: dict[str, str] = field(default_factory=dict)  # collector nodeid -> error line
    tamper: list[str] = field(default_factory=list)
    exitstatus: int | None = None
    facts: dict[str, dict[str, str]] = field(default_factory=dict)  # nodeid -> what failed


def read_report(stdout: str) -> tuple[SignedReport | None, list[str]]:
    """The report signed with the key the plugin printed first, and what looked forged.

    None when no report verifies: the run ended early, or something else printed one.
    """
    key = KEY.search(stdout)
    if key is None:
        return None, []
    secret = bytes.fromhex(key.group(1))
    forged, valid = [], []
    for match in REPORT.finditer(stdout, key.end()):
        body, mac = match.groups()
        expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, mac):
            valid.append(body)
        else:
            forged.append("a report not signed by healer's plugin was printed")
    if len(KEY.findall(stdout)) > 1:
        forged.append("a second plugin key was printed")
    if len(valid) != 1:
        return None, forged
    data = json.loads(base64.b64decode(valid[0]))
    report = SignedReport(collected=list(data.get("collected", [])),
                          outcomes=dict(data.get("outcomes", {})),
                          errors=dict(data.get("errors", {})), tamper=list(data.get("tamper", [])),
                          exitstatus=data.get("exitstatus"), facts=_facts(data.get("facts")))
    return report, forged


def _facts(data: object) -> dict[str, dict[str, str]]:
    """The facts of the failing tests, as strings (what the sandbox printed is untrusted)."""
    if not isinstance(data, dict):
        return {}
    return {str(k): {str(n): str(v)[:1000] for n, v in list(facts.items())[:8]}
            for k, facts in list(data.items())[:100] if isinstance(facts, dict)}


def pytest_log(stdout: str) -> str:
    """pytest's own output, without the key, the report and the JUnit XML."""
    log = stdout.partition(JUNIT_MARKER)[0]
    return REPORT.sub("", KEY.sub("", log)).strip() + "\n"
