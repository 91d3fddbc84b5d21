import pytest

from healer.config import Settings
from healer.errors import ModelOutputError
from healer.llm.client import LLMClient
from healer.models import Plan, Spec
from healer.pipeline.file_list import make_file_list, parse_file_list
from tests.fakellm import FakeLLM


def paths(text: str) -> list[str]:
    return [f.path for f in parse_file_list(text)]


def test_json_object_in_prose() -> None:
    text = 'Sure! {"files": [{"path": "app.py", "purpose": "main"}, {"path": "./lib/x.py"}]} ok'
    assert paths(text) == ["app.py", "lib/x.py"]


def test_json_list_of_strings_in_fence() -> None:
    assert paths('```json\n["a.py", "b/c.js"]\n```') == ["a.py", "b/c.js"]


def test_bullet_lines_fallback() -> None:
    text = "The files:\n- `app.py`: entry point\n- tests/test_app.py - tests\n1. Makefile\nThat is all."
    assert paths(text) == ["app.py", "tests/test_app.py", "Makefile"]


def test_prose_without_paths_is_an_error() -> None:
    with pytest.raises(ModelOutputError):
        parse_file_list("I think you should write a calculator with care.")


@pytest.mark.parametrize("evil", ["../evil.py", "/etc/passwd", ".git/hooks/pre-commit"])
def test_escaping_paths_are_refused(evil: str) -> None:
    with pytest.raises(ModelOutputError, match="unsafe path"):
        parse_file_list(f'{{"files": [{{"path": "{evil}"}}]}}')


def test_files_the_spec_names_are_added_when_the_model_leaves_them_out(
        fake_llm: FakeLLM, fake_settings: Settings) -> None:
    spec = Spec(text="# Ext\n## Files\n- `popup.html`: the page\n- `popup.js`: its script\n")
    fake_llm.enqueue('{"files": [{"path": "popup.html", "purpose": "the page"}]}')
    listed = make_file_list(LLMClient(fake_settings), spec, Plan(text="plan"))
    assert [(f.path, f.purpose) for f in listed.files] == [
        ("popup.html", "the page"), ("popup.js", "named in the spec")]


def test_a_spec_that_names_its_files_needs_no_file_list_call() -> None:
    from healer.models import Spec
    from healer.pipeline.file_list import stated_file_list

    one = Spec(text="# Calc\nWrite a single module `calc.py` with `add(a, b)`.\n")
    assert [f.path for f in stated_file_list(one).files] == ["calc.py"]
    listed = Spec(text="# Ext\n## Files\n- `popup.js`: the popup's script\n- `popup.html`: its page\n")
    assert [(f.path, f.purpose) for f in stated_file_list(listed).files] == [
        ("popup.js", "the popup's script"), ("popup.html", "its page")]
    several = Spec(text="A `server.py` and a `client.py` that talk over `config.json`.\n")
    assert stated_file_list(several) is None
    assert stated_file_list(Spec(text="A calculator.")) is None
