from pathlib import Path

import pytest

from healer.errors import PathEscapeError, SpecError
from healer.spec import acceptance_files, load_spec, named_files, prompt_text, sections_of


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_sections_bullets_and_code_blocks() -> None:
    text = "# App\n## Checks\n- `python -m app --help`\n```\npytest -q\n```\n## Keep\n* assets/*\n## Other\n- x\n"
    assert sections_of(text) == {"checks": ["python -m app --help", "pytest -q"], "keep": ["assets/*"]}


def test_spec_file_with_per_file_specs_and_tests(tmp_path: Path) -> None:
    spec_file = write(tmp_path / "spec.md", "# Calc\nAdd numbers.\n## Tests\n- tests/\n")
    write(tmp_path / "calc.py.md", "Use integers only.")
    write(tmp_path / "files" / "pkg" / "util.py.md", "Helpers.")
    write(tmp_path / "tests" / "test_calc.py", "def test_x():\n    assert True\n")
    spec = load_spec(str(spec_file))
    assert spec.file_specs == {"calc.py": "Use integers only.", "pkg/util.py": "Helpers."}
    assert list(acceptance_files(spec)) == ["tests/test_calc.py"]
    assert "assert True" in prompt_text(spec)


def test_prompt_string_is_a_spec() -> None:
    spec = load_spec("a tiny script that prints hello")
    assert spec.source is None and spec.text.startswith("a tiny")


@pytest.mark.parametrize("bad", ["missing.md", ""])
def test_missing_or_empty_spec_is_a_clear_error(tmp_path: Path, bad: str, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError):
        load_spec(bad)


def test_empty_file_and_binary_file_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="empty"):
        load_spec(str(write(tmp_path / "e.md", "  \n")))
    binary = tmp_path / "b.md"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SpecError, match="UTF-8"):
        load_spec(str(binary))


def test_missing_acceptance_test_and_escaping_keep(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_spec(str(write(tmp_path / "s.md", "# S\n## Tests\n- nope_test.py\n")))
    with pytest.raises(PathEscapeError):
        load_spec(str(write(tmp_path / "k.md", "# S\n## Keep\n- ../secret\n")))


def test_files_the_spec_names(tmp_path: Path) -> None:
    text = ("# Ext\n## Files\n- `manifest.json`: version 3, uses `chrome.tabs.query`.\n"
            "- `options.html` and `options.js`: settings.\n  - `nested/note.txt`: a sub-bullet\n"
            "- `popup.js` shows `#page-title`\n- `../escape.py`: ignored\n- a bullet with no path\n"
            "```\n- `in_code.py`: not a bullet\n```\n## Other\n- `other.py`: elsewhere\n")
    spec_file = write(tmp_path / "spec.md", text)
    write(tmp_path / "files" / "lib" / "util.py.md", "Helpers.")
    assert named_files(load_spec(str(spec_file))) == [
        "manifest.json", "options.html", "options.js", "nested/note.txt", "popup.js",
        "lib/util.py"]


@pytest.mark.parametrize("arg", ["specs", "missing/spec", "notes.rst", "./nowhere"])
def test_a_path_that_is_not_a_spec_file_is_an_error_not_a_prompt(tmp_path, monkeypatch, arg):
    from healer.errors import SpecError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    with pytest.raises(SpecError):
        load_spec(arg)
    assert load_spec("a calculator with add and mul").text.startswith("a calculator")
