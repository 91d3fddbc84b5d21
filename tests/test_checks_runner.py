"""run_checks end to end over sample projects, in the real Docker sandbox."""

from pathlib import Path

import pytest

from healer.checks import run_checks
from healer.errors import SandboxError, SandboxUnavailableError
from healer.sandbox import images
from healer.sandbox.docker import DockerSandbox, connect

pytestmark = pytest.mark.docker
PROJECTS = Path(__file__).parent / "data" / "projects"


@pytest.fixture(scope="module")
def sandbox():
    try:
        connect()
    except SandboxUnavailableError as exc:
        pytest.skip(f"no Docker daemon answers: {exc.message}")
    try:
        images.image_for("python")
        images.image_for("node")
        images.image_for("python-node")
    except SandboxError:
        images.build_images(progress=lambda _: None)
    box = DockerSandbox(memory="512m")
    yield box
    box.close()


def _checks(project: str, sandbox, **kwargs) -> dict:
    return {r.name: r for r in run_checks(PROJECTS / project, sandbox, timeout=60, **kwargs)}


def _failed(results: dict) -> list[str]:
    return [name for name, r in results.items() if not r.passed]


def test_a_passing_project_is_green(sandbox):
    results = _checks("passing", sandbox, declared=["python3 -c 'import calc; print(calc.add(1, 2))'"])
    assert _failed(results) == []
    assert not results["pytest"].skipped and not results["cli"].skipped
    assert results["pytest"].detail.startswith("tests 1")


def test_a_failing_test_gives_one_failure_per_test(sandbox):
    results = _checks("failing_test", sandbox)
    assert _failed(results) == ["pytest"]
    failures = results["pytest"].failures
    assert [(f.file, f.line) for f in failures] == [("test_stats.py", 5), ("test_stats.py", 9)]
    assert "test_mean_of_one" in failures[0].message
    assert "where 2.0 = mean([4])" in failures[0].excerpt


def test_a_syntax_error_stops_before_the_sandbox(sandbox):
    results = _checks("syntax_error", sandbox)
    assert _failed(results) == ["syntax"]
    assert results["syntax"].failures[0].file == "broken.py"
    assert results["pytest"].skipped


def test_a_missing_dependency_is_found_statically_and_at_import(sandbox):
    results = _checks("missing_dep", sandbox)
    assert _failed(results) == ["imports", "import"]
    [static] = results["imports"].failures
    [dynamic] = results["import"].failures
    assert (static.file, static.line) == ("fetch.py", 3)
    assert (dynamic.file, dynamic.line) == ("fetch.py", 3)
    assert "No module named 'requests'" in dynamic.message


def test_an_undefined_name_is_reported(sandbox):
    results = _checks("undefined_name", sandbox)
    assert _failed(results) == ["undefined-names"]
    assert results["undefined-names"].failures[0].line == 2


def test_node_projects(sandbox):
    good = _checks("node_ok", sandbox)
    bad = _checks("node_bad", sandbox)
    assert _failed(good) == [] and not good["npm-test"].skipped
    assert _failed(bad) == ["node-syntax"]
    [failure] = bad["node-syntax"].failures
    assert (failure.file, failure.line) == ("app.js", 2)
    assert "SyntaxError" in failure.message


def test_a_python_project_with_a_package_json_gets_both_languages_checked(sandbox):
    results = _checks("python_node", sandbox)
    assert _failed(results) == ["node-syntax"]
    [failure] = results["node-syntax"].failures
    assert (failure.file, failure.line) == ("web/page.js", 2)
    assert not results["pytest"].skipped and results["pytest"].detail.startswith("tests 1")
    assert not results["npm-test"].skipped and results["npm-test"].passed


def test_a_failing_declared_check_is_reported_with_its_location(sandbox):
    results = _checks("passing", sandbox, declared=["python3 -c 'import calc; calc.add()'"])
    [name] = _failed(results)
    assert name.startswith("check: ")
    assert "TypeError" in results[name].failures[0].message
