"""Untrusted folders and answers around the sandbox: host-side checks, staging, bad inputs."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from healer.checks import run_checks
from healer.checks.static import static_checks
from healer.sandbox.project import archive_of

SECRET = "root-secret-line-that-must-stay-on-the-host"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "host" / "shadow"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\nsecond line\n")
    return path


def test_host_side_checks_do_not_follow_symlinks(tmp_path: Path, secret: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("x = 1\n")
    (project / "shadow.py").symlink_to(secret)
    (project / "data.json").symlink_to(secret)
    results = static_checks(project)
    shown = repr([r.model_dump() for r in results])
    assert SECRET not in shown
    assert all(r.passed for r in results)


def test_a_deeply_nested_file_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text("x = " + "-" * 100_000 + "1\n")
    (tmp_path / "long.py").write_text("x = " + "+".join(["1"] * 100_000) + "\n")
    results = static_checks(tmp_path)  # parsing one, pyflakes on the other, recurse too deep
    syntax = next(r for r in results if r.name == "syntax")
    assert not syntax.passed and "nested too deeply" in syntax.failures[0].message


def test_an_oversized_source_file_is_not_read(tmp_path: Path) -> None:
    with (tmp_path / "big.py").open("w") as handle:
        handle.truncate(300 * 2**20)  # sparse: 300 MB of nothing
    syntax = next(r for r in static_checks(tmp_path) if r.name == "syntax")
    assert not syntax.passed and "larger than 1 MB" in syntax.failures[0].message


def test_the_archive_skips_fifos_and_gives_every_file_to_the_sandbox_user(
        tmp_path: Path, secret: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "app.py").write_text("x = 1\n")
    (project / "run.sh").write_text("echo hi\n")
    (project / "run.sh").chmod(0o755)
    (project / "pkg" / "key.txt").write_text("private\n")
    (project / ".git").mkdir()
    (project / ".git" / "config").write_text("[core]\n")
    (project / "shadow.py").symlink_to(secret)
    os.link(project / "app.py", project / "pkg" / "same.py")  # a second name of one file
    os.mkfifo(project / "pipe")
    with tarfile.open(fileobj=archive_of([(project, "")], {".healer/ca.crt": b"CA"})) as tar:
        entries = {info.name: info for info in tar.getmembers()}
        shown = b"".join(tar.extractfile(i).read() for i in entries.values() if i.isfile())
        assert tar.extractfile(entries["pkg/same.py"]).read() == b"x = 1\n"  # packed whole
    assert "pipe" not in entries and ".git" not in entries  # no FIFO, none of healer's folders
    assert entries["shadow.py"].issym() and SECRET.encode() not in shown  # a link, not read
    assert {(i.uid, i.gid) for i in entries.values()} == {(1000, 1000)}
    assert entries["app.py"].mode == 0o600 and entries["run.sh"].mode == 0o700
    assert entries["pkg"].mode == 0o700 and entries[".healer/ca.crt"].mode == 0o600


def test_a_project_over_the_size_cap_is_refused_before_anything_is_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from healer.errors import SandboxError
    from healer.sandbox import project as staging

    monkeypatch.setattr(staging, "MAX_PROJECT_BYTES", 2**20)
    with (tmp_path / "big.bin").open("wb") as handle:
        handle.truncate(2 * 2**20)  # sparse: nothing on disk, 2 MiB in the archive
    with pytest.raises(SandboxError, match="larger than 1 MiB"):
        archive_of([(tmp_path, "")])


@pytest.mark.docker
def test_a_project_with_a_fifo_and_a_symlink_is_checked_in_docker(tmp_path: Path,
                                                                  secret: Path) -> None:
    from healer.sandbox.docker import DockerSandbox, connect

    try:
        connect()
    except Exception as exc:  # noqa: BLE001 - any failure means no daemon to test against
        pytest.skip(f"no Docker daemon: {exc}")
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("print(open('shadow.py').read())\n")
    (project / "test_app.py").write_text("def test_reads():\n    import app\n")
    (project / "shadow.py").symlink_to(secret)
    os.mkfifo(project / "pipe")
    results = run_checks(project, DockerSandbox(), timeout=60)
    shown = repr([r.model_dump() for r in results])
    assert SECRET not in shown  # the link points at nothing inside the sandbox


def _hostile_folder(root: Path, marker: Path) -> Path:
    """A folder holding its own `healer` and `pip` packages: started with `python -m` from
    there, Python imports them before healer's or pip's own."""
    plant = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
    for package in ("healer", "healer/llm", "pip"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text(plant)
    (root / "healer/llm/local_server.py").write_text(plant)
    (root / "pip/__main__.py").write_text(plant)
    return root


def test_healer_s_python_helpers_do_not_import_code_from_the_folder_they_run_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `healer debug` runs in the folder it is pointed at (`-d .`); the bundled model's server,
    # pip's configuration and the unsafe-local install are started as `python -m ...`
    import subprocess

    from healer.hostpython import host_python
    from healer.sandbox.hostenv import pip_config

    marker = tmp_path / "ran-on-the-host"
    folder = _hostile_folder(tmp_path / "folder", marker)
    monkeypatch.chdir(folder)
    pip_config()
    out = subprocess.run(host_python("healer.llm.local_server", "--help"), capture_output=True,
                         text=True, timeout=60, check=False)
    assert not marker.exists()
    assert "--parent-pid" in out.stdout


def test_the_install_network_reaches_a_private_proxy_on_its_port_only(monkeypatch) -> None:
    # a proxy on this host (cntlm on 192.168.1.5:3128) must not open the Docker socket, a
    # database or the model server listening on that address to the install step
    from healer.sandbox import egress

    added: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(egress, "_rule", lambda chain, spec: added.append((chain, spec)) or True)
    monkeypatch.setattr(egress, "_nameservers", list)
    for var in egress.PROXY_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://user:pw@192.168.1.5:3128")
    monkeypatch.setenv("http_proxy", "192.168.1.6")  # no scheme, no port: pip's default 80
    assert egress._ensure_rules()
    opened = [spec for chain, spec in added if "RETURN" in spec or "ACCEPT" in spec]
    assert len(opened) == 4
    for spec in opened:
        address = spec[spec.index("-d") + 1]
        port = {"192.168.1.5/32": "3128", "192.168.1.6/32": "80"}[address]
        assert spec[spec.index("-p") + 1] == "tcp" and spec[spec.index("--dport") + 1] == port


def test_the_spec_checks_do_not_parse_a_file_over_the_size_cap(tmp_path: Path,
                                                               monkeypatch) -> None:
    # a folder's 300 MB module, parsed whole on the host, took many gigabytes
    import ast

    from healer.checks.spec_checks import names_check
    from healer.hostread import MAX_BYTES

    (tmp_path / "app.py").write_text("def count(text):\n    return 0\n")
    (tmp_path / "big.py").write_text("x = 1\n" * (MAX_BYTES // 6 + 1))
    parsed, parse = [], ast.parse
    monkeypatch.setattr(ast, "parse", lambda text, *a, **k: parsed.append(len(text))
                        or parse(text, *a, **k))
    check = names_check(tmp_path, "# Count\n\n```python\ndef count(text): ...\n```\n")
    assert check.passed and parsed and max(parsed) <= MAX_BYTES


@pytest.mark.parametrize("name", ["pyproject.toml", "package.json", "go.mod"])
def test_project_settings_are_not_read_through_a_link(tmp_path: Path, name: str) -> None:
    from healer.checks.node import test_script
    from healer.checks.python import console_scripts
    from healer.stacks.go import module_path

    outside = tmp_path / "outside"
    outside.write_text({"pyproject.toml": "[project.scripts]\nrun = 'os:system'\n",
                        "package.json": '{"scripts": {"test": "cat /etc/shadow"}}',
                        "go.mod": "module example.com/elsewhere\n"}[name])
    project = tmp_path / "p"
    project.mkdir()
    (project / name).symlink_to(outside)
    assert console_scripts(project) == {} and test_script(project) is None
    assert module_path(project) != "example.com/elsewhere"
