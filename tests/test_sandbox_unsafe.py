from pathlib import Path

from healer.sandbox.unsafe import UnsafeLocalSandbox


def test_runs_on_a_copy_with_work_paths_and_a_timeout(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import os\nprint(os.getcwd())\nopen('out.txt', 'w')\n")
    box = UnsafeLocalSandbox()
    try:
        result = box.run(tmp_path, "python3 app.py", timeout=30)
        assert result.ok and result.stdout.strip() == "/work"  # the temp copy, shown as /work
        assert not (tmp_path / "out.txt").exists()  # the user's folder is untouched
        slow = box.run(tmp_path, "sleep 30", timeout=1)
        assert slow.timed_out and slow.duration < 10
    finally:
        box.close()


def test_the_acceptance_contract_holds_on_the_host_pytest(tmp_path) -> None:
    from healer.checks import acceptance

    user, project = tmp_path / "user", tmp_path / "project"
    user.mkdir()
    project.mkdir()
    test = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    (user / "test_calc.py").write_text(test)
    (project / "test_calc.py").write_text(test)
    sandbox = UnsafeLocalSandbox()
    try:
        contract = acceptance.collect({"test_calc.py": user / "test_calc.py"}, sandbox,
                                      timeout=60)
        assert contract.ids == ["test_calc.py::test_add"]
        (project / "calc.py").write_text("def add(a, b):\n    return a - b\n")
        red = acceptance.run(project, contract, sandbox, timeout=60)
        assert not red.passed and "assert -1 == 3" in red.failures[0].message
        (project / "calc.py").write_text("def add(a, b):\n    return a + b\n")
        assert acceptance.run(project, contract, sandbox, timeout=60).passed
    finally:
        sandbox.close()


def test_output_is_clipped_without_holding_it_in_memory(tmp_path: Path) -> None:
    box = UnsafeLocalSandbox()
    try:
        result = box.run(tmp_path, "head -c 50000000 /dev/zero | tr '\\0' x", timeout=60)
        assert result.ok and len(result.stdout) < 1_100_000
        assert "bytes cut" in result.stdout and result.stdout.endswith("x")
    finally:
        box.close()
