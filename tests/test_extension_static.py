"""Host-side extension checks (manifest, syntax, DOM ids, messages) and Chromium log parsing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from healer.checks.extension import is_extension
from healer.checks.extension.chromium_log import load_errors, parse_log, script_errors
from healer.checks.extension.dom import dom_check
from healer.checks.extension.manifest import manifest_check
from healer.checks.extension.messages import messages_check
from healer.checks.extension.syntax import find_node, syntax_check

SAMPLES = Path(__file__).resolve().parent / "data" / "extensions"


def sample(tmp_path: Path, variant: str | None = None) -> Path:
    """A copy of the good extension with a broken variant's files laid over it."""
    target = tmp_path / (variant or "good")
    shutil.copytree(SAMPLES / "good", target)
    if variant:
        shutil.copytree(SAMPLES / "broken" / variant, target, dirs_exist_ok=True)
    return target


def test_the_good_sample_passes_every_static_check(tmp_path: Path) -> None:
    project = sample(tmp_path)
    manifest_result, manifest = manifest_check(project)
    assert manifest is not None and manifest_result.passed, manifest_result.failures
    for result in (
        syntax_check(project),
        dom_check(project, {"content.js"}),
        messages_check(project),
    ):
        assert result.passed, result.failures
    assert is_extension(project)


def test_invalid_manifest_json_is_reported_with_its_line(tmp_path: Path) -> None:
    project = sample(tmp_path, "bad_manifest_json")
    result, manifest = manifest_check(project)
    assert manifest is None and not result.passed
    (failure,) = result.failures
    assert (failure.file, failure.line) == ("manifest.json", 5)
    assert "not valid JSON" in failure.message
    assert not is_extension(project)


def test_missing_service_worker_file_is_reported(tmp_path: Path) -> None:
    result, _ = manifest_check(sample(tmp_path, "missing_worker"))
    (failure,) = result.failures
    assert failure.file == "manifest.json" and failure.line == 8
    assert "worker.js" in failure.message and "does not exist" in failure.message


def test_required_keys_and_missing_page_references(tmp_path: Path) -> None:
    project = sample(tmp_path)
    data = json.loads((project / "manifest.json").read_text())
    data["manifest_version"] = 2
    del data["version"]
    (project / "manifest.json").write_text(json.dumps(data, indent=2))
    (project / "popup.css").unlink()
    messages = [f.message for f in manifest_check(project)[0].failures]
    assert any("manifest_version must be 3" in m for m in messages)
    assert any("'version'" in m for m in messages)
    css = [f for f in manifest_check(project)[0].failures if f.file == "popup.html"]
    assert css and css[0].line == 6 and "popup.css" in css[0].message


@pytest.mark.skipif(find_node() is None, reason="node is not installed")
def test_syntax_errors_name_file_and_line(tmp_path: Path) -> None:
    project = sample(tmp_path)
    (project / "content.js").write_text("const a = 1;\nconst b = a +;\nconst c = 2;\n")
    (project / "lib.js").write_text("import { x } from './x.js';\nexport const y = x +;\n")
    failures = {f.file: f for f in syntax_check(project).failures}
    assert failures["content.js"].line == 2 and "SyntaxError" in failures["content.js"].message
    assert failures["lib.js"].line == 2  # checked as an ES module, so only the real error shows


def test_an_id_missing_from_the_popup_html_is_reported(tmp_path: Path) -> None:
    result = dom_check(sample(tmp_path, "missing_id"), {"content.js"})
    (failure,) = result.failures
    assert (failure.file, failure.line) == ("popup.js", 17)
    assert "answer-box" in failure.message and "popup.html" in failure.message


def test_selectors_ids_created_by_scripts_and_content_scripts(tmp_path: Path) -> None:
    project = sample(tmp_path)
    popup = project / "popup.js"
    added = (
        "const box = document.createElement('div'); box.id = 'made-here';\n"
        "document.querySelector('#made-here');\n"
        "document.querySelector('main #nowhere .x');\n"
    )
    popup.write_text(popup.read_text() + added)
    (project / "content.js").write_text("document.getElementById('only-on-web-pages');\n")
    failures = dom_check(project, {"content.js"}).failures
    assert [(f.file, f.line) for f in failures] == [("popup.js", 31)]
    assert "nowhere" in failures[0].message


def test_inline_scripts_and_handlers_break_the_mv3_policy(tmp_path: Path) -> None:
    project = sample(tmp_path)
    (project / "options.html").write_text(
        '<html><body>\n<button onclick="go()">Go</button>\n<script>go()</script>\n</body></html>'
    )
    failures = dom_check(project, set()).failures
    assert sorted((f.file, f.line) for f in failures) == [("options.html", 2), ("options.html", 3)]


def test_a_message_without_a_listener_is_reported(tmp_path: Path) -> None:
    (failure,) = messages_check(sample(tmp_path, "message_without_listener")).failures
    assert (failure.file, failure.line) == ("popup.js", 28)
    assert "SUMMARIZE_PAGE" in failure.message


def test_a_listener_only_in_the_sender_does_not_count(tmp_path: Path) -> None:
    project = sample(tmp_path)
    (project / "background.js").write_text("// no listener any more\n")
    names = sorted(f.message.split("'")[1] for f in messages_check(project).failures)
    assert names == ["ASK_LLM"]  # GET_PAGE is still handled by content.js


CHROMIUM_LOG = """\
[1:1:1122/045039.815229:WARNING:extensions/browser/load_error_reporter.cc:73] Extension error: \
Failed to load extension from: /tmp/x. Manifest is not valid JSON.  expected `,` or `}` at line 4 column 3
[2:2:1122/045007.541804:INFO:CONSOLE:2] "Uncaught ReferenceError: undefinedFn is not defined", \
source: chrome-extension://cpnjheigapaihnoebpkkbifphlahkldi/cs.js (2)
[3:3:1122/045007.775981:INFO:CONSOLE:0] "Error in event handler: TypeError: Cannot read properties of null (reading 'x')
    at chrome-extension://cpnjheigapaihnoebpkkbifphlahkldi/bg.js:2:35", source:  (0)
[4:4:1122/045007.833506:INFO:CONSOLE:2] "popup got {"ok":1}", source: chrome-extension://cpnjheigapaihnoebpkkbifphlahkldi/popup.js (2)
[5:5:1122/045044.001376:WARNING:extensions/browser/load_error_reporter.cc:73] Extension error: \
Failed to load extension from: /tmp/y. Could not load background script ''.
"""


def test_chromium_log_load_errors_point_at_the_file() -> None:
    errors = load_errors(parse_log(CHROMIUM_LOG), "background.js")
    assert [(e.file, e.line) for e in errors] == [("manifest.json", 4), ("background.js", None)]


def test_chromium_log_script_errors_keep_file_and_line() -> None:
    errors = script_errors(parse_log(CHROMIUM_LOG))
    assert [(e.file, e.line) for e in errors] == [("cs.js", 2), ("bg.js", 2)]
    assert errors[1].message.startswith("Error in event handler: TypeError")
