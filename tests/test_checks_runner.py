"""run_checks end to end over sample projects, in the real Docker sandbox."""

import json
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


class _NoInstall:
    """A sandbox that must not be asked to install anything."""

    name = "none"

    def prepare(self, project, *, timeout=None):
        raise AssertionError("the install step ran")

    def run(self, project, command, *, timeout, network=False):
        raise AssertionError("a command ran")

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("name", "text", "words"), [
    ("requirements.txt", "requests\n--no-index\n", "line 2: `--no-index`"),
    ("requirements.txt", "/src/evilpkg\n", "line 1: `/src/evilpkg`"),
    ("requirements.txt", "-r other.txt\n", "`-r other.txt`"),
    ("requirements.txt", "pkg @ https://evil.example/pkg.tar.gz\n", "evil.example"),
    ("requirements.txt", "git+https://host/repo.git\n", "git+https"),
    ("pyproject.toml", "[project]\nname='x'\ndependencies=['evil @ file:///src/evil']\n",
     "pyproject.toml dependency"),
    ("package.json", '{"dependencies": {"evil": "file:../evil"}}\n', "package.json dependency"),
    ("package.json", '{"dependencies": {"b": "/src/evil"}}', "package.json dependency b"),
    ("package.json", '{"dependencies": {"b": "bitbucket:x/y"}}', "package.json dependency b"),
    ("package.json", '{"dependencies": {"b": "npm:evil@file:../x"}}', "package.json dependency b"),
    ("package.json", '{"peerDependencies": {"b": "file:../evil"}}', "package.json dependency b"),
    ("package.json", '{"overrides": {"a": {"b": "file:../evil"}}}', "package.json overrides"),
    ("package.json", '{"dependencies": ["file:../evil"]}', "package.json dependencies"),
    ("package-lock.json", '{"packages": {"node_modules/b": {"resolved": "http://10.0.0.1/b.tgz"}}}',
     "package-lock.json node_modules/b"),
    ("package-lock.json", '{"packages": {"node_modules/b": {"resolved": "../evil", "link": true}}}',
     "package-lock.json node_modules/b"),
    # pip reads these as a direct reference too: a name with extras, a line continued
    ("requirements.txt", "evil[x]@file:/src/evil\n", "file:/src/evil"),
    ("requirements.txt", "evil\\\n@file:/src/evil\n", "file:/src/evil"),
    ("requirements.txt", "evil ; python_version>'3' @ file:/src/evil\n", "file:/src/evil"),
    ("pyproject.toml", "[project]\nname='x'\ndependencies=['evil[x]@file:/src/evil']\n",
     "pyproject.toml dependency"),
    # an argument of pip's command line, as an option
    ("pyproject.toml", "[project]\nname='x'\ndependencies=['--no-index', 'x']\n", "--no-index"),
])
def test_dependencies_that_are_not_index_names_are_refused_before_install(tmp_path, name, text,
                                                                          words) -> None:
    from healer.checks.runner import install_check

    (tmp_path / name).write_text(text)
    if name == "package-lock.json":
        (tmp_path / "package.json").write_text('{"dependencies": {"b": "^1.0.0"}}')
    check = install_check(tmp_path, _NoInstall())
    assert not check.passed and words in check.failures[0].message
    assert "package index only" in check.failures[0].message


@pytest.mark.parametrize(("name", "text"), [
    ("requirements.txt", "-e /src/evil\n--extra-index-url http://10.0.0.1/\n"),
    ("go.mod", "module m\n\nrequire x v1.0.0\nreplace x => ../evil\n"),
])
def test_a_linked_dependency_file_is_refused_before_install(tmp_path, name, text) -> None:
    # the check read nothing through the link; the install step would have followed it
    from healer.checks.runner import install_check

    (tmp_path / "real.txt").write_text(text)
    (tmp_path / name).symlink_to("real.txt")
    check = install_check(tmp_path, _NoInstall())
    assert not check.passed and "a link" in check.failures[0].message


def test_pip_is_given_the_requirements_it_was_shown_not_the_file(tmp_path) -> None:
    from healer.stacks import install_script

    (tmp_path / "requirements.txt").write_text(
        "requests>=2.0  # http\nnumpy[extra] == 1.26.* ; python_version >= '3.10'\n\n"
        "attrs\\\n>=23\n")
    script = install_script(tmp_path)
    assert "-r " not in script and "requirements.txt" not in script
    assert "'requests>=2.0'" in script and "'attrs>=23'" in script
    assert "numpy[extra] == 1.26.* ; python_version >= '3.10'" in script.replace("'\"'\"'", "'")


def test_registry_versions_of_npm_packages_are_installed(tmp_path) -> None:
    from healer.stacks import STACKS

    (tmp_path / "package.json").write_text(json.dumps({
        "dependencies": {"a": "^1.2.3", "b": ">=1.0.0 <2", "c": "latest", "d": "1.x || 2.x",
                         "e": "*", "f": "", "@scope/g": "~0.4.1"},
        "devDependencies": {"jest": "^29.7.0"}, "overrides": {"h": "1.0.0"}}))
    (tmp_path / "package-lock.json").write_text(json.dumps({"packages": {
        "": {"name": "x"}, "node_modules/a": {
            "resolved": "https://registry.npmjs.org/a/-/a-1.2.3.tgz"}}}))
    assert STACKS.get("node").dependency_problems(tmp_path) == []


def test_credentials_in_the_index_url_mean_wheels_only(tmp_path) -> None:
    from healer.sandbox.hostenv import carries_credentials
    from healer.stacks import install_script

    (tmp_path / "requirements.txt").write_text("requests\n")
    assert carries_credentials({"PIP_INDEX_URL": "https://user:tok@pypi.corp/simple"})
    assert not carries_credentials({"PIP_INDEX_URL": "https://pypi.org/simple"})
    # a proxy's password reaches every package's build code as HTTPS_PROXY
    assert carries_credentials({"HTTPS_PROXY": "http://user:pass@proxy:3128"})
    assert carries_credentials({"http_proxy": "user:pass@proxy:3128"})
    assert not carries_credentials({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost"})
    assert "--only-binary=:all:" in install_script(tmp_path, wheels_only=True)
    assert "--only-binary" not in install_script(tmp_path)
