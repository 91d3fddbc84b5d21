"""healer as a library: build, check and debug from Python, against the real sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

import healer
from tests.scripted_model import ProjectModel

pytestmark = pytest.mark.docker
BUG, FIX = "    return a - b\n", "    return a + b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
REPAIR = f"Diagnosis: add subtracts.\n\ncalc.py\n<<<<<<< SEARCH\n{BUG}=======\n{FIX}>>>>>>> REPLACE\n"


@pytest.fixture
def endpoint(fake_llm, docker_ready, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setenv("HEALER_CACHE_DIR", str(tmp_path / "cache"))
    return {"base_url": fake_llm.url, "model": "test-model", "api_key": "k"}


def test_build_repairs_and_returns_the_report(fake_llm, endpoint, tmp_path: Path) -> None:
    fake_llm.responder = ProjectModel({"calc.py": f"def add(a, b):\n{BUG}"}, debug=[REPAIR])
    tests = tmp_path / "test_calc.py"
    tests.write_text(TESTS)
    report = healer.build("# calc\nA module `calc.py` with `add(a, b)` returning the sum.\n",
                          tmp_path / "out", max_iters=2, tests=[str(tests)], **endpoint)
    assert report.status == "green" and len(report.rounds) == 2  # red at 0, repaired at 1
    assert (tmp_path / "out" / "calc.py").read_text().endswith(FIX)


def test_check_and_debug_on_a_folder(fake_llm, endpoint, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "calc.py").write_text(f"def add(a, b):\n{BUG}")
    (project / "test_calc.py").write_text(TESTS)
    red = healer.check(project)
    assert [r.name for r in red if not r.passed] == ["pytest"]
    fake_llm.responder = lambda request: REPAIR
    fixed = healer.debug("FAILED test_calc.py::test_add - assert -1 == 5", project, apply=True,
                         **endpoint)
    assert fixed.applied and fixed.changed == ["calc.py"]
    assert all(r.passed for r in healer.check(project))
