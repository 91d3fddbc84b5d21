from pathlib import Path

from healer.checks.imports import import_names
from healer.checks.static import static_checks

PROJECTS = Path(__file__).parent / "data" / "projects"


def _by_name(project: Path) -> dict:
    return {r.name: r for r in static_checks(project)}


def test_a_clean_project_passes_the_static_gate():
    results = _by_name(PROJECTS / "passing")
    assert all(r.passed for r in results.values())
    assert not results["syntax"].skipped and not results["json"].skipped


def test_syntax_error_has_file_and_line():
    [failure] = _by_name(PROJECTS / "syntax_error")["syntax"].failures
    assert (failure.file, failure.line) == ("broken.py", 5)
    assert "expected ':'" in failure.message
    assert "def shout(name)" in failure.excerpt


def test_undefined_name_is_found():
    [failure] = _by_name(PROJECTS / "undefined_name")["undefined-names"].failures
    assert (failure.file, failure.line) == ("paths.py", 2)
    assert "'os'" in failure.message


def test_undeclared_import_is_reported_and_declared_ones_are_not():
    [failure] = _by_name(PROJECTS / "missing_dep")["imports"].failures
    assert (failure.file, failure.line) == ("fetch.py", 3)
    assert "'requests'" in failure.message  # six is declared, json is stdlib


def test_guarded_and_local_imports_are_accepted(tmp_path):
    (tmp_path / "helpers.py").write_text("X = 1\n")
    (tmp_path / "requirements.txt").write_text("PyYAML>=6\nbeautifulsoup4\n")
    (tmp_path / "main.py").write_text(
        "import helpers\nimport yaml\nfrom bs4 import BeautifulSoup\n"
        "try:\n    import ujson\nexcept ImportError:\n    ujson = None\n"
    )
    assert _by_name(tmp_path)["imports"].passed


def test_invalid_json_has_line(tmp_path):
    (tmp_path / "manifest.json").write_text('{\n  "name": "x",\n  "version": 1,\n}\n')
    [failure] = _by_name(tmp_path)["json"].failures
    assert failure.file == "manifest.json" and failure.line == 4


def test_distribution_names_map_to_import_names():
    assert import_names("scikit-learn==1.4") == {"sklearn"}
    assert import_names("Pillow") == {"PIL"}
    assert "requests" in import_names("requests[socks]>=2")


def test_an_undefined_name_says_which_defined_one_it_likely_misspells(tmp_path):
    (tmp_path / "yacht.py").write_text(
        "FOUR_OF_A_KIND = 'four'\n\n\ndef score(dice, category):\n"
        "    if category == Four_OF_A_KIND:\n        return sum(dice)\n"
        "    return sortd(dice) + total\n\n\ndef totals(values):\n    return values\n")
    messages = [f.message for f in _by_name(tmp_path)["undefined-names"].failures]
    assert messages == ["undefined name 'Four_OF_A_KIND' (did you mean 'FOUR_OF_A_KIND'?)",
                        "undefined name 'sortd' (did you mean 'sorted'?)",
                        "undefined name 'total' (did you mean 'totals'?)"]
    (tmp_path / "yacht.py").write_text("def score(dice):\n    return modifier(dice)\n")
    [failure] = _by_name(tmp_path)["undefined-names"].failures
    assert failure.message == "undefined name 'modifier'"  # nothing near it: no guess


def test_an_undefined_name_that_a_standard_module_provides_says_which_import(tmp_path):
    # `Any` is not a misspelling of `any`: the import was left out
    (tmp_path / "shop.py").write_text(
        "def total(items: List[Any]) -> Counter:\n    return json.dumps(Counter(items))\n")
    messages = [f.message for f in _by_name(tmp_path)["undefined-names"].failures]
    assert "undefined name 'Any' (not imported? `from typing import Any`)" in messages
    assert "undefined name 'Counter' (not imported? `from collections import Counter`)" in messages
    assert "undefined name 'json' (not imported? `import json`)" in messages
