"""Checks of what the spec itself states: names, signatures, scripts and shell examples."""

from __future__ import annotations

from pathlib import Path

from healer.checks.spec_checks import (
    Example,
    names_check,
    stated_examples,
    stated_names,
)

SPEC = '''# Rows
Write `pascal.py` with `count(text: str) -> int`; for example `sorted(x)` is not a name.

```python
def rows(row_count):
    """Pascal's triangle."""
    pass


class Triangle:
    def height(self):
        pass
```

An illustration, not an interface:

```python
def factorial(n):
    return 1 if n < 2 else n * factorial(n - 1)
```

```
$ python pascal.py 3
1
1 1

$ python pascal.py --help
```
'''


def test_names_come_from_typed_signatures_and_stubs_only() -> None:
    assert stated_names(SPEC) == ["count", "rows", "Triangle", "height"]


def test_shell_sessions_become_examples_with_their_output() -> None:
    assert stated_examples(SPEC) == [Example("python pascal.py 3", ("1", "1 1")),
                                     Example("python pascal.py --help", None)]


def write(root: Path, code: str) -> Path:
    (root / "pascal.py").write_text(code)
    return root


def test_a_missing_name_or_a_changed_signature_fails(tmp_path: Path) -> None:
    code = ("def count(text):\n    return 0\n\n\ndef rows(n, extra):\n    return []\n\n\n"
            "class Triangle:\n    def height(self):\n        return 0\n")
    check = names_check(write(tmp_path, code), SPEC)
    messages = [f.message for f in check.failures]
    assert not check.passed
    assert messages == [("the spec gives `rows(row_count)`, but pascal.py defines "
                        "`rows(n, extra)`")]


def test_a_project_that_keeps_the_interface_passes(tmp_path: Path) -> None:
    code = ("def count(text):\n    return 0\n\n\ndef rows(row_count):\n    return []\n\n\n"
            "class Triangle:\n    def height(self):\n        return 0\n")
    assert names_check(write(tmp_path, code), SPEC).passed


def test_a_missing_class_and_script_are_named(tmp_path: Path) -> None:
    spec = SPEC + "\nRun it as `python main.py`.\n"
    check = names_check(write(tmp_path, "def count(t):\n    pass\n\n\ndef rows(r):\n    pass\n"),
                        spec)
    messages = " ".join(f.message for f in check.failures)
    assert "`Triangle(...)`" in messages and "`height(...)`" in messages
    assert "`python main.py`, which does not exist" in messages


def test_a_spec_without_python_names_is_skipped(tmp_path: Path) -> None:
    check = names_check(tmp_path, "# A page\nA popup with a button `go`.\n")
    assert check.skipped


def test_a_module_level_stub_defined_only_inside_a_class_fails(tmp_path: Path) -> None:
    # `from pascal import rows` cannot import a method: the interface block gives `rows` and
    # `Triangle` at the top level of the module, so that is where they must be
    code = ("def count(text):\n    return 0\n\n\nclass Triangle:\n    def height(self):\n"
            "        return 0\n\n    def rows(self, row_count):\n        return []\n")
    check = names_check(write(tmp_path, code), SPEC)
    assert [f.message for f in check.failures] == [
        ("the spec gives `rows(...)` at the top level of a module, but the project defines it "
         "only inside `Triangle` (pascal.py:9); define it at the top level")]
    assert check.failures[0].file == "pascal.py" and check.failures[0].line == 9
    # bound at the top level another way (an import, an assignment, under `try`) is defined
    for top in ("from math import comb as rows\n", "rows = Triangle().rows\n",
                ("try:\n    from fast import rows\nexcept ImportError:\n    def rows(n):\n"
                 "        return []\n")):
        assert names_check(write(tmp_path, code + top), SPEC).passed, top
