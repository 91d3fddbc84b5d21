"""Untrusted folders and answers around the sandbox: host-side checks, staging, bad inputs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from healer.checks import run_checks
from healer.checks.static import static_checks
from healer.sandbox.project import new_stage, stage_into

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


def test_staging_skips_fifos_and_keeps_private_files_private(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("x = 1\n")
    (project / "key.txt").write_text("private\n")
    (project / "key.txt").chmod(0o600)
    os.mkfifo(project / "pipe")
    stage = new_stage()
    try:
        stage_into(project, stage)
        assert (stage / "app.py").is_file() and not (stage / "pipe").exists()
        mode = (stage / "key.txt").stat().st_mode
        if os.geteuid() == 0:  # given to the sandbox user, readable by nobody else
            assert not mode & (stat.S_IRGRP | stat.S_IROTH)
            assert (stage / "key.txt").stat().st_uid == 1000
        parent_mode = stage.parent.stat().st_mode
        assert not parent_mode & stat.S_IROTH  # others cannot list the staged copies
    finally:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)


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
