"""A build through the CLI with the bundled local model: no endpoint, no key, real sandbox.

Plumbing and the loop's behaviour are checked, not the model's exact output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from healer.cli import cli
from healer.errors import LocalModelError
from healer.llm.weights import locate_parts

pytestmark = [pytest.mark.localmodel, pytest.mark.docker]

TEST = "from greet import greet\n\n\ndef test_greet():\n    assert greet('Ada') == 'Hello, Ada!'\n"


@pytest.fixture
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        locate_parts()
    except LocalModelError as exc:
        pytest.skip(str(exc))
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "HEALER_MODEL"):
        monkeypatch.delenv(var, raising=False)


def test_build_with_the_bundled_model(no_endpoint: None, tmp_path: Path) -> None:
    spec = tmp_path / "greet.md"
    spec.write_text("# greet\nWrite a module `greet.py` with one function `greet(name: str) -> str`"
                    " that returns `Hello, <name>!`.\n\n## Tests\n- test_greet.py\n")
    (tmp_path / "test_greet.py").write_text(TEST)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["build", str(spec), "-o", str(out), "--max-iters", "1",
                                      "--no-cache", "--json"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output + result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == ("green" if result.exit_code == 0 else "not_green")
    assert (out / ".healer" / "plan.md").is_file() and (out / "greet.py").is_file()
    assert (out / "test_greet.py").read_text() == TEST
    first = report["rounds"][0]
    assert first["strategy"] == "generate" and "pytest" in [c["name"] for c in first["checks"]]
    # the spec names its one file: the file is written at once, with no plan nor file-list call
    assert report["usage_by_stage"]["generate"]["calls"] >= 1
    assert "plan" not in report["usage_by_stage"] and "file_list" not in report["usage_by_stage"]
    assert all(u["cost_usd"] in (0, None) for u in report["usage_by_stage"].values())
