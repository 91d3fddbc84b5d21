"""Checks on a Docker engine that shares no file system with healer: a second engine on this
machine in its own mount and network namespaces (scripts/remote-engine.sh), reached over TCP
through a veth pair the script creates. A host path given to it resolves to nothing there,
so a check that passes there got the project over the Docker API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import docker.types
import pytest
from click.testing import CliRunner

from healer.checks import run_checks
from healer.cli import cli
from healer.errors import SandboxError
from healer.sandbox import images
from healer.sandbox.docker import DockerSandbox, connect

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).parent / "data" / "projects"
SCRIPT = ROOT / "scripts" / "remote-engine.sh"


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("making a second engine's namespaces needs root")
    if not all(shutil.which(tool) for tool in ("dockerd", "ip", "nsenter", "unshare")):
        pytest.skip("dockerd, ip, nsenter or unshare is missing")
    started = subprocess.run(["bash", str(SCRIPT), "start"], capture_output=True, text=True,
                             check=False, timeout=120)
    if started.returncode != 0:
        pytest.skip(f"no second engine: {started.stderr.strip()}")
    url = started.stdout.strip().splitlines()[-1]
    try:
        images.build_images(progress=lambda _: None, host=url, stacks=("python",))
        yield url
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], capture_output=True, check=False)


@pytest.fixture(scope="module")
def remote(engine: str) -> DockerSandbox:
    return DockerSandbox(client=connect(engine), memory="512m")


def _checks(project: Path, sandbox: DockerSandbox) -> dict:
    return {r.name: r for r in run_checks(project, sandbox, timeout=60)}


def test_the_engine_cannot_see_host_paths(remote: DockerSandbox, tmp_path: Path) -> None:
    # the control: a bind mount of a host folder, as the sandbox used to make, fails there
    (tmp_path / "calc.py").write_text("x = 1\n")
    with pytest.raises(docker.errors.APIError, match="bind source path does not exist"):
        remote.client.containers.run(
            images.image_for("python", client=remote.client), ["ls", "/mnt"], remove=True,
            network_mode="none", mounts=[docker.types.Mount("/mnt", str(tmp_path), type="bind")])


def test_checks_pass_and_fail_there_as_here(remote: DockerSandbox,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    kinds: list[str] = []
    real = docker.types.Mount

    def recorded(target, source, type="volume", **options):
        kinds.append(type)
        return real(target, source, type=type, **options)

    monkeypatch.setattr(docker.types, "Mount", recorded)
    passing = _checks(PROJECTS / "passing", remote)
    failing = _checks(PROJECTS / "failing_test", remote)
    assert [n for n, r in passing.items() if not r.passed] == []
    assert passing["pytest"].detail.startswith("tests 1")
    assert [n for n, r in failing.items() if not r.passed] == ["pytest"]
    assert [(f.file, f.line) for f in failing["pytest"].failures] == [
        ("test_stats.py", 5), ("test_stats.py", 9)]
    assert kinds and set(kinds) == {"volume"}  # nothing of the host's file system


def test_dependencies_are_installed_in_a_volume_of_that_engine(remote: DockerSandbox,
                                                               tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "use_six.py").write_text("import six\nprint(six.PY3)\n")
    image = images.image_for("python", client=remote.client)
    remote._remove_volume(remote._volume_name(tmp_path, image))  # install for real
    installed = remote.prepare(tmp_path)  # pip there, with the host's CA bundle sent along
    assert installed.ok, installed.stdout + installed.stderr
    assert "install network: unrestricted: the Docker engine is remote" in installed.stderr
    result = remote.run(tmp_path, "python3 use_six.py", timeout=60)
    assert result.ok and result.stdout.strip() == "True"
    assert remote.client.volumes.get(remote._volume_name(tmp_path, image))  # on that engine


def test_the_loop_repairs_a_build_on_the_remote_engine(
        engine: str, fake_llm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.scripted_model import ProjectModel

    monkeypatch.setenv("HEALER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_HOST", engine)
    bug, fix = "    return a - b\n", "    return a + b\n"
    tests = tmp_path / "test_calc.py"
    tests.write_text("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    model = ProjectModel(
        {"calc.py": f"def add(a, b):\n{bug}"},
        debug=[(f"Diagnosis: add subtracts.\n\ncalc.py\n<<<<<<< SEARCH\n{bug}=======\n{fix}"
                ">>>>>>> REPLACE\n")])
    fake_llm.responder = model
    spec = tmp_path / "calc.md"
    spec.write_text("# calc\nA module `calc.py` with `add(a, b)` returning the sum.\n")
    out = tmp_path / "out"
    env = {"OPENAI_BASE_URL": fake_llm.url, "HEALER_MODEL": "test-model", "OPENAI_API_KEY": "k"}
    result = CliRunner().invoke(cli, ["build", str(spec), "-o", str(out), "--max-iters", "2",
                                      "--tests", str(tests)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"checks in the docker sandbox on the engine at {engine}" in " ".join(
        result.output.split())
    report = json.loads((out / ".healer" / "report.json").read_text())
    assert report["status"] == "green" and len(report["rounds"]) == 2  # red at 0, repaired at 1
    assert (out / "calc.py").read_text().endswith(fix), result.output


def test_a_missing_image_on_that_engine_is_a_clear_error(remote: DockerSandbox,
                                                         tmp_path: Path) -> None:
    (tmp_path / "index.js").write_text("console.log(1);\n")  # the node image is not built there
    with pytest.raises(SandboxError, match="not built on this Docker engine") as caught:
        remote.run(tmp_path, "node index.js", timeout=30)
    assert "healer sandbox build" in caught.value.hint


LOCAL = "unix:///var/run/docker.sock"
SLOW_TEST = "import time\n\n\ndef test_slow():\n    time.sleep(3)\n"


def _passing_project(folder: Path) -> Path:
    shutil.copytree(PROJECTS / "passing", folder)
    (folder / "test_slow.py").write_text(SLOW_TEST)
    return folder


def test_checks_spread_over_the_engines(engine: str, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from healer.sandbox.spread import SpreadSandbox

    spread = SpreadSandbox([LOCAL, engine], memory="512m")
    projects = [_passing_project(tmp_path / name) for name in ("one", "two")]
    command = "python3 -m pytest -q -p no:cacheprovider"
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda p: spread.run(p, command, timeout=60), projects))
    assert all(r.ok and "2 passed" in r.stdout for r in results), results
    assert set(spread._home.values()) == {LOCAL, engine}  # one folder on each engine


def test_healer_check_with_sandbox_hosts_from_the_environment(engine: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              ) -> None:
    monkeypatch.setenv("HEALER_SANDBOX_HOSTS", f"{engine}, {LOCAL}")
    project = tmp_path / "failing"
    shutil.copytree(PROJECTS / "failing_test", project)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", str(project), "--json"], catch_exceptions=False)
    assert result.exit_code == 1  # the project's own failing test, found on one of the engines
    failed = [c["name"] for c in json.loads(result.output) if not c["passed"]]
    assert failed == ["pytest"]


def test_an_engine_that_goes_away_costs_only_the_checks_in_flight(engine: str,
                                                                  tmp_path: Path) -> None:
    """Last in this file: it stops the second engine."""
    import threading
    import time

    from healer.sandbox.spread import SpreadSandbox

    spread = SpreadSandbox([engine, LOCAL], memory="512m")
    project = _passing_project(tmp_path / "project")
    spread._home[str(project.resolve())] = engine  # this build's checks run over there
    command = "python3 -m pytest -q -p no:cacheprovider"
    done: list = []
    worker = threading.Thread(target=lambda: done.append(spread.run(project, command,
                                                                    timeout=60)))
    worker.start()
    time.sleep(1.5)  # the check is running on the second engine now
    subprocess.run(["bash", str(SCRIPT), "kill"], capture_output=True, check=False)
    worker.join(120)
    (result,) = done
    assert result.ok and "2 passed" in result.stdout  # retried on this machine's engine
    assert spread._home[str(project.resolve())] == LOCAL and spread.engine == LOCAL
    after = spread.run(project, command, timeout=60)
    assert after.ok
