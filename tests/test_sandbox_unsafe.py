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
