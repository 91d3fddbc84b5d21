"""`healer debug`, `healer prompt` and `healer check` through the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from healer.cli import cli
from tests.scripted_model import ProjectModel

BUGGY = "def total(prices):\n    return sum(p['price'] for p in prices)\n"
ERROR = ("Traceback (most recent call last):\n  File \"shop.py\", line 2, in total\n"
         "KeyError: 'price'\n")
FIX = ("Diagnosis: the items carry `cost`, not `price`.\n\nshop.py\n<<<<<<< SEARCH\n"
       "    return sum(p['price'] for p in prices)\n=======\n"
       "    return sum(p['cost'] for p in prices)\n>>>>>>> REPLACE\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "shop.py").write_text(BUGGY)
    subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
    return folder


def invoke(args: list[str], llm_env: dict[str, str], stdin: str | None = None):
    return CliRunner().invoke(cli, args, env=llm_env, input=stdin, catch_exceptions=False)


def test_debug_proposes_without_applying(fake_llm, llm_env, project) -> None:
    model = ProjectModel({}, debug=[FIX])
    fake_llm.responder = model
    result = invoke(["debug", ERROR, "-d", str(project)], llm_env)
    assert result.exit_code == 0, result.output
    assert "+    return sum(p['cost'] for p in prices)" in result.stdout
    assert "KeyError: 'price'" in model.prompts[0][1]  # the pasted error reached the model
    assert "return sum(p['price']" in model.prompts[0][1]  # and so did the code
    assert (project / "shop.py").read_text() == BUGGY


def test_debug_apply_from_stdin_commits(fake_llm, llm_env, project) -> None:
    fake_llm.responder = ProjectModel({}, debug=[FIX])
    result = invoke(["debug", "-", "-d", str(project), "--apply"], llm_env, stdin=ERROR)
    assert result.exit_code == 0, result.output
    assert "p['cost']" in (project / "shop.py").read_text()
    log = subprocess.run(["git", "log", "--format=%s"], cwd=project, capture_output=True, text=True,
                         check=False)
    assert log.stdout.startswith("healer debug: the items carry")


def test_debug_with_unusable_answers_fails_clearly(fake_llm, llm_env, project) -> None:
    fake_llm.responder = ProjectModel({}, debug=["I am not sure."] * 3)
    result = CliRunner().invoke(cli, ["debug", ERROR, "-d", str(project), "--apply"], env=llm_env)
    assert result.exit_code == 1
    assert "could not be applied" in result.stderr and "Traceback" not in result.output
    assert (project / "shop.py").read_text() == BUGGY


def test_prompt_writes_a_spec_from_code(fake_llm, llm_env, project, tmp_path) -> None:
    fake_llm.enqueue("# Shop\nA module `shop.py` with `total(prices)`.")
    out = tmp_path / "spec.md"
    result = invoke(["prompt", str(project), "-o", str(out)], llm_env)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# Shop")
    assert BUGGY.splitlines()[0] in fake_llm.requests[0]["messages"][-1]["content"]


@pytest.mark.docker
def test_check_exit_codes_and_json(project, tmp_path) -> None:
    (project / "test_shop.py").write_text(
        "from shop import total\n\n\ndef test_total():\n    assert total([{'price': 2}]) == 2\n")
    result = CliRunner().invoke(cli, ["check", str(project), "--json"])
    assert result.exit_code == 0, result.output
    assert {c["name"] for c in json.loads(result.stdout)} >= {"syntax", "pytest"}
    (project / "test_shop.py").write_text(
        "from shop import total\n\n\ndef test_total():\n    assert total([{'price': 2}]) == 3\n")
    result = CliRunner().invoke(cli, ["check", str(project), "--json"])
    assert result.exit_code == 1
    failing = [c for c in json.loads(result.stdout) if not c["passed"]]
    assert failing[0]["name"] == "pytest" and failing[0]["failures"][0]["file"] == "test_shop.py"
    assert CliRunner().invoke(cli, ["check", str(tmp_path / "missing")]).exit_code == 2


def test_debug_never_sends_or_commits_the_user_s_secrets(fake_llm, llm_env, project) -> None:
    (project / ".env").write_text("OPENAI_API_KEY=sk-user-secret\n")
    (project / "deploy.pem").write_text("-----BEGIN PRIVATE KEY-----\nsecret-key-body\n")
    (project / ".gitignore").write_text("local_notes.txt\n")
    (project / "local_notes.txt").write_text("my private notes: hunter2\n")
    (project / "draft.py").write_text("# the user's own work in progress\n")
    fake_llm.responder = ProjectModel({}, debug=[FIX])
    result = invoke(["debug", ERROR, "-d", str(project), "--apply"], llm_env)
    assert result.exit_code == 0, result.output
    sent = json.dumps(fake_llm.requests)
    for secret in ("sk-user-secret", "secret-key-body", "hunter2"):
        assert secret not in sent
    committed = subprocess.run(["git", "ls-files"], cwd=project, capture_output=True,
                               text=True, check=False).stdout.split()
    assert committed == ["shop.py"]  # the fix only: not .env, not the user's draft


TWO_BUGS = BUGGY + "\n\ndef count(items):\n    return len(items) + 1\n"
SHOP_TESTS = ("from shop import count, total\n\n\ndef test_total():\n"
              "    assert total([{'cost': 2}, {'cost': 3}]) == 5\n\n\n"
              "def test_count():\n    assert count([1, 2]) == 2\n")
FIX_COUNT = ("Diagnosis: count adds one.\n\nshop.py\n<<<<<<< SEARCH\n    return len(items) + 1\n"
             "=======\n    return len(items)\n>>>>>>> REPLACE\n")


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_debug_check_repairs_from_the_checks_until_green(fake_llm, llm_env, project) -> None:
    (project / "shop.py").write_text(TWO_BUGS)
    (project / "test_shop.py").write_text(SHOP_TESTS)
    (project / ".healer").mkdir()
    (project / ".healer" / "spec.md").write_text("# Shop\nItems carry their price as `cost`.\n")
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "mine"],
                   cwd=project, check=True)
    model = ProjectModel({}, debug=[FIX, FIX_COUNT])
    fake_llm.responder = model
    result = CliRunner().invoke(cli, ["debug", ERROR, "-d", str(project), "--check"],
                                env=llm_env)
    assert result.exit_code == 0, result.output
    assert (project / "shop.py").read_text() == TWO_BUGS.replace("'price'", "'cost'").replace(
        " + 1", "")
    first, second = [p for k, p in model.prompts if k == "debug"]
    assert "Items carry their price as `cost`" in first  # the spec of a folder healer built
    assert "test_count" in second and "KeyError" not in second  # the checks' failures
    assert "round 1: shop.py; failing: pytest" in result.output
    assert "round 2: shop.py; checks pass" in result.output
    log = subprocess.run(["git", "log", "--format=%s"], cwd=project, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert log[:2] == ["healer debug: count adds one.",
                       "healer debug: the items carry `cost`, not `price`."]


def test_a_folder_with_a_fifo_or_a_spec_link_in_its_state_is_debugged_or_refused_clearly(
        fake_llm, llm_env, project, tmp_path) -> None:
    import os

    os.mkfifo(project / "pipe")  # copied for the scratch run, it would block the copy
    fake_llm.responder = ProjectModel({}, debug=[FIX])
    result = invoke(["debug", ERROR, "-d", str(project)], llm_env)
    assert result.exit_code == 0, result.output
    (tmp_path / "secret").write_text("TOKEN=abc\n")
    (project / ".healer").mkdir()
    (project / ".healer" / "spec.md").symlink_to(tmp_path / "secret")  # read into the prompt
    fake_llm.responder = ProjectModel({}, debug=[FIX])
    result = CliRunner().invoke(cli, ["debug", ERROR, "-d", str(project)], env=llm_env)
    assert result.exit_code != 0 and "a link or not a plain file" in " ".join(
        result.output.split())
    assert all("TOKEN" not in str(r) for r in fake_llm.requests)


def test_a_folder_nested_too_deeply_or_with_odd_settings_is_a_clear_error(
        llm_env, project) -> None:
    levels = [project / "d"]
    for _ in range(1100):  # one by one: os.makedirs (and shutil.rmtree) recurse themselves
        levels.append(levels[-1] / "d")
    for level in levels:
        level.mkdir()
    try:
        result = CliRunner().invoke(cli, ["prompt", str(project)], env=llm_env)
    finally:
        for level in reversed(levels):
            level.rmdir()
    assert result.exit_code == 2 and "nested too deeply" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    (project / "pyproject.toml").write_text('tool = "x"\n')
    result = CliRunner().invoke(cli, ["prompt", str(project)], env=llm_env)
    assert result.exit_code != 0
    assert "not a table of settings" in " ".join(result.output.split()), result.output


def test_debug_apply_never_writes_a_private_file_under_another_name(fake_llm, llm_env,
                                                                    project) -> None:
    # local.cfg is git-ignored: left out of the scratch copy, so an answer naming it as
    # `path/to/local.cfg` would look like a new file there and overwrite the user's
    (project / ".gitignore").write_text("local.cfg\n")
    (project / "local.cfg").write_text("password = hunter2\n")
    answer = ("Diagnosis: the config is wrong.\n\npath/to/local.cfg\n```\npassword = x\n```\n")
    fake_llm.responder = ProjectModel({}, debug=[answer] * 3)
    result = CliRunner().invoke(cli, ["debug", ERROR, "-d", str(project), "--apply"],
                                env=llm_env)
    assert result.exit_code != 0
    assert (project / "local.cfg").read_text() == "password = hunter2\n"
    assert all("hunter2" not in str(r) for r in fake_llm.requests)
