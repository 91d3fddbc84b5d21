"""The repair loop on a Chrome extension: a popup TypeError seen in real Chromium, then fixed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from healer.cli import cli
from tests.scripted_model import ProjectModel

pytestmark = [pytest.mark.docker, pytest.mark.chromium]
SAMPLES = Path(__file__).parent / "data" / "extensions"
BUG = "const layout = null;\nconst width = layout.width; // TypeError: layout is null\n"


def extension_files() -> dict[str, str]:
    files = {p.name: p.read_text() for p in (SAMPLES / "good").iterdir() if p.suffix in
             (".js", ".html", ".css", ".json")}
    manifest = json.loads(files["manifest.json"])
    manifest.pop("icons")  # the model writes text files only
    files["manifest.json"] = json.dumps(manifest, indent=2) + "\n"
    files["popup.js"] = (SAMPLES / "broken" / "popup_type_error" / "popup.js").read_text()
    assert BUG in files["popup.js"]
    return files


def test_popup_error_found_in_chromium_and_repaired(fake_llm, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HEALER_CACHE_DIR", str(tmp_path / "cache"))
    fix = f"Diagnosis: popup.js reads a property of null.\n\npopup.js\n<<<<<<< SEARCH\n{BUG}=======\n>>>>>>> REPLACE\n"
    model = ProjectModel(extension_files(), debug=[fix])
    fake_llm.responder = model
    spec = tmp_path / "ext.md"
    spec.write_text("# Page Q&A\nA Manifest V3 extension whose popup asks an LLM about the page.\n")
    out = tmp_path / "out"
    env = {"OPENAI_BASE_URL": fake_llm.url, "HEALER_MODEL": "test-model", "OPENAI_API_KEY": "k"}
    result = CliRunner().invoke(cli, ["build", str(spec), "-o", str(out), "--max-iters", "2"],
                                env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    report = json.loads((out / ".healer" / "report.json").read_text())
    first = [f for c in report["rounds"][0]["checks"] for f in c["failures"]]
    assert any(f["check"] == "extension.browser" and f["file"] == "popup.js" for f in first)
    debug_prompt = next(p for k, p in model.prompts if k == "debug")
    assert "popup.js" in debug_prompt and "null" in debug_prompt
    assert report["status"] == "green" and BUG not in (out / "popup.js").read_text()
    # every round's popup screenshot is kept, and report.md links it
    shots = [r["screenshot"] for r in report["rounds"]]
    assert shots == ["screenshots/round-0.png", "screenshots/round-1.png"]
    assert all((out / ".healer" / s).read_bytes().startswith(b"\x89PNG") for s in shots)
    assert "Popup: [screenshot](screenshots/round-1.png)" in (out / ".healer" / "report.md").read_text()
