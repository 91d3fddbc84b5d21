"""A separate package extends healer through entry points: a stack, a sandbox backend, an edit
format and a check, each found by healer's registries beside healer's own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from healer.errors import ConfigError
from healer.plugins import Registry

PLUGIN = '''
from pathlib import Path

from healer.models import CheckResult, Edit, RunResult
from healer.pipeline.formats import EditFormat
from healer.stacks import Evidence, Stack

HERE = Path(__file__).parent


class ShellStack(Stack):
    name = "shell"
    check_names = ("sh-syntax",)
    source_suffixes = (".sh",)
    fence = "sh"  # .sh is a language healer knows: its own fence name stays

    def recipe(self):
        return HERE / "Dockerfile.shell"

    def detect(self, project):
        return Evidence.FOUND if any(project.glob("*.sh")) else Evidence.NONE

    def checks(self, project, sandbox, timeout, *, ignore=()):
        result = sandbox.run(project, "sh -n *.sh", timeout=timeout)
        return [CheckResult(name="sh-syntax", passed=result.ok, command="sh -n")]


class EchoSandbox:
    """Runs nothing: answers every command with its own text (enough to see it was chosen)."""

    def __init__(self, settings):
        self.settings = settings

    def prepare(self, project, *, timeout=None):
        return None

    def run(self, project, command, *, timeout, network=False):
        return RunResult(exit_code=0, stdout=command)

    def close(self):
        pass


def parse_json(text, example):
    return [Edit(path=item["path"], search=None, replace=item["content"])
            for item in __import__("json").loads(text)]


class ReadmeCheck:
    name = "readme"

    def applies(self, context):
        return True

    def run(self, context):
        found = (context.project / "README.md").is_file()
        return [CheckResult(name="readme", passed=found)]


STACK = ShellStack()
FORMAT = EditFormat("json-files", "json_files", parse_json, prompt_dir=HERE)
CHECK = ReadmeCheck()
'''

ENTRY_POINTS = """
[healer.stacks]
shell = healer_shell:STACK

[healer.sandboxes]
echo = healer_shell:EchoSandbox

[healer.edit_formats]
json-files = healer_shell:FORMAT

[healer.checks]
readme = healer_shell:CHECK

[healer.stacks]
python = healer_shell:STACK
"""

PROBE = '''
import json, sys
from pathlib import Path
from healer.config import Settings
from healer.checks.runner import run_checks
from healer.pipeline.formats import EDIT_FORMATS
from healer.sandbox import open_sandbox
from healer.sandbox.images import dockerfile, stack_names
from healer.stacks import STACKS, stack_for

project = Path(sys.argv[1])
settings = Settings(sandbox="echo", edit_format="json-files", base_url="http://x", model="m")
sandbox = open_sandbox(settings)
results = run_checks(project, sandbox, timeout=5)
fmt = EDIT_FORMATS.get("json-files")
print(json.dumps({
    "stacks": stack_names(),
    "stack": stack_for(project).name,
    "python_is_healers": type(STACKS.get("python")).__module__,
    "recipe": dockerfile("shell").name,
    "sandbox": type(sandbox).__name__,
    "checks": {r.name: r.passed for r in results if not r.skipped},
    "instructions": fmt.instructions("run.sh"),
    "edits": [e.path for e in fmt.parse('[{"path": "run.sh", "content": "echo hi"}]', "x")],
}))
'''


def make_plugin(folder: Path) -> Path:
    package = folder / "healer_shell"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN)
    (package / "Dockerfile.shell").write_text("ARG BASE\nFROM ${BASE}\n")
    (package / "json_files.md").write_text("Answer a JSON list of files; $path is one ($lang).\n")
    info = folder / "healer_shell-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: healer-shell\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    return folder


def test_a_separate_package_adds_a_stack_a_backend_a_format_and_a_check(tmp_path):
    plugins = make_plugin(tmp_path / "site")
    project = tmp_path / "project"
    project.mkdir()
    (project / "run.sh").write_text("echo hi\n")
    env = {**os.environ, "PYTHONPATH": str(plugins)}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(project)], capture_output=True,
                          text=True, env=env, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert set(seen["stacks"]) == {"python", "node", "python-node", "go", "shell"}
    assert seen["stack"] == "shell" and seen["recipe"] == "Dockerfile.shell"
    assert seen["python_is_healers"] == "healer.stacks.python"  # a taken name is not replaced
    assert "stack 'python' from healer_shell:STACK is ignored: that name is taken" in proc.stderr
    assert seen["sandbox"] == "EchoSandbox"
    assert seen["checks"]["sh-syntax"] is True  # the stack's check ran, in the echo backend
    assert seen["checks"]["readme"] is False  # and the plugin's check, which found no README
    assert seen["instructions"] == "Answer a JSON list of files; run.sh is one (bash).\n"
    assert seen["edits"] == ["run.sh"]


def test_without_the_plugin_its_names_are_clear_errors():
    from healer.config import Settings

    with pytest.raises(ValueError, match="'echo' is not one of bwrap, docker, unsafe-local"):
        Settings(sandbox="echo")
    with pytest.raises(ValueError, match="'json-files' is not one of"):
        Settings(edit_format="json-files")
    from healer.stacks import STACKS

    with pytest.raises(ConfigError, match="no stack named 'shell'"):
        STACKS.get("shell")


def test_an_empty_group_is_a_clear_error_not_an_empty_registry():
    with pytest.raises(ConfigError, match="no widget is registered") as caught:
        Registry("healer.widgets", "widget").names()
    assert "pip install -e ." in str(caught.value)
