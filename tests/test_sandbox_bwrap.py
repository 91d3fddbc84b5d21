"""The bubblewrap fallback over the debootstrap tree."""

import os
import shutil

import pytest

from healer.errors import SandboxError, SandboxUnavailableError
from healer.sandbox.bwrap import BwrapSandbox, install_step


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal applies to root only")
def test_refuses_to_run_as_root_where_its_limits_do_not_hold() -> None:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    with pytest.raises(SandboxUnavailableError, match="cannot hold its process limit"):
        BwrapSandbox()


def test_the_install_on_the_hosts_network_runs_no_package_code(tmp_path) -> None:
    # an sdist's setup.py would run with the host's network in reach (its loopback services
    # included); wheels only means pip never builds one, credentials or not
    (tmp_path / "requirements.txt").write_text("six\n")
    assert "--only-binary=:all:" in install_step(tmp_path)


@pytest.fixture(scope="module")
def sandbox():
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    if os.geteuid() == 0:
        pytest.skip("bubblewrap refuses to run as root")
    try:
        return BwrapSandbox(memory="512m")
    except SandboxError as exc:
        pytest.skip(f"no sandbox root file system: {exc.message}")


def test_passing_run(sandbox, tmp_path):
    (tmp_path / "test_ok.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    result = sandbox.run(tmp_path, "python3 -m pytest -q -p no:cacheprovider", timeout=60)
    assert result.ok, result.stdout
    assert "1 passed" in result.stdout


def test_failing_run(sandbox, tmp_path):
    (tmp_path / "test_bad.py").write_text("def test_bad():\n    assert 1 + 1 == 3\n")
    result = sandbox.run(tmp_path, "python3 -m pytest -q -p no:cacheprovider", timeout=60)
    assert result.exit_code == 1
    assert "test_bad.py:2: AssertionError" in result.stdout


def test_host_environment_does_not_leak(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = sandbox.run(tmp_path, "env", timeout=30)
    assert result.ok
    assert "sk-secret" not in result.stdout


def test_isolated_from_network_and_host_folder(sandbox, tmp_path):
    (tmp_path / "a.txt").write_text("original\n")
    result = sandbox.run(tmp_path, "echo changed > a.txt; touch /etc/x; ls /sys/class/net", timeout=30)
    assert (tmp_path / "a.txt").read_text() == "original\n"
    assert "Read-only file system" in result.stderr
    assert "eth0" not in result.stdout


def test_timeout_kills(sandbox, tmp_path):
    result = sandbox.run(tmp_path, "sleep 60", timeout=2)
    assert result.timed_out


def test_bwrap_itself_sees_no_host_secret(sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = sandbox.run(tmp_path, "cat /proc/1/environ; echo; cat /proc/self/environ", timeout=30)
    assert "sk-secret" not in result.stdout


def test_the_work_folder_has_a_size(sandbox, tmp_path):
    result = sandbox.run(tmp_path, "head -c 700M /dev/zero > /work/big", timeout=60)
    assert not result.ok and "No space left" in result.stderr
