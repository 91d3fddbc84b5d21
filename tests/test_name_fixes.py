"""Undefined names a model left, fixed where the fix is certain (healer/pipeline/name_fixes.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from healer.cli import cli
from healer.models import Edit
from healer.pipeline.edits import apply_edits
from healer.pipeline.fences import file_from_answer
from healer.pipeline.name_fixes import fix_names, local_modules
from tests.scripted_model import ProjectModel

ROBOT = ('"""Robot names."""\n\nimport random\n\n\nclass Robot:\n    def name(self):\n'
         '        return re.sub("a", "b", random.choice("ab"))\n')


def test_a_module_used_as_one_is_imported_after_the_leading_imports() -> None:
    fixed = fix_names("robot.py", ROBOT)
    assert fixed == ROBOT.replace("import random\n", "import random\nimport re\n")
    compile(fixed, "robot.py", "exec")


def test_typing_names_classes_and_decorators_are_imported_together() -> None:
    source = ("from __future__ import annotations\n\n@dataclass\nclass Point:\n"
              "    x: int = field(default=0)\n    tags: List[str] = None\n\n\n"
              "def count(words: Iterable[str]) -> Optional[Counter]:\n"
              "    return Counter(words) if words else None\n")
    fixed = fix_names("point.py", source)
    head = fixed.splitlines()[:4]
    assert head == ["from __future__ import annotations",
                    "from collections import Counter",
                    "from typing import Iterable, List, Optional",
                    "from dataclasses import dataclass, field"]
    namespace: dict[str, object] = {}
    exec(compile(fixed, "point.py", "exec"), namespace)  # noqa: S102 - our own test source
    assert namespace["count"](["a", "a"]) == {"a": 2}


def test_a_shebang_and_encoding_line_stay_first() -> None:
    source = "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\ndef f():\n    return Path('x')\n"
    fixed = fix_names("tool.py", source)
    assert fixed.splitlines()[:3] == ["#!/usr/bin/env python3", "# -*- coding: utf-8 -*-",
                                      "from pathlib import Path"]


@pytest.mark.parametrize("source", [
    "def f(text):\n    return code.strip()\n",  # `code` has no strip: a local left undefined
    "def f():\n    return datetime.now()\n",  # `import datetime` or `from datetime import ...`
    "def f():\n    return random\n",  # a bare name, not used as a module
    "def f(xs):\n    return reduce(max, xs)\n",  # a lower-case function may be a forgotten def
    "def f():\n    try:\n        pass\n    except ValueError:\n        pass\n    return e\n",
    "import os\n",  # nothing missing
    "def broken(:\n    return re.sub('a', 'b', 'c')\n",  # does not parse
])
def test_anything_less_than_certain_is_left_as_it_is(source: str) -> None:
    assert fix_names("m.py", source) == source


def test_a_module_the_project_provides_is_not_taken_for_the_standard_library() -> None:
    source = "def f():\n    return queue.pop()\n"
    local = local_modules(["queue.py", "app.py", "pkg/__init__.py"])
    assert local == {"queue", "app", "pkg"}
    assert fix_names("app.py", source, local) == source
    assert fix_names("app.js", "x = re.sub('a', 'b', 'c')\n") == \
        "x = re.sub('a', 'b', 'c')\n"  # only Python files


def test_a_whole_file_answer_gets_its_imports() -> None:
    answer = f"Here it is:\n```python\n{ROBOT}```\n"
    assert "import re\n" in file_from_answer(answer, "robot.py").content


def test_an_edit_adds_the_imports_its_own_code_needs_and_no_others(tmp_path: Path) -> None:
    # the file already used `json` without importing it: that is the user's, not the edit's
    (tmp_path / "app.py").write_text("def load(text):\n    return json.loads(text)\n\n\n"
                                     "def clean(text):\n    return text.strip()\n")
    edit = Edit(path="app.py", search="    return text.strip()\n",
                replace="    return re.sub(r'\\s+', ' ', text).strip()\n")
    assert apply_edits(tmp_path, [edit]).changed == ["app.py"]
    text = (tmp_path / "app.py").read_text()
    assert text.startswith("import re\n\ndef load(text):")
    assert "import json" not in text



NAMES = ("from robot import new_name\n\n\ndef test_name_is_two_letters_then_three_digits():\n"
         "    name = new_name()\n    assert len(name) == 5 and name[:2].isupper() and "
         "name[2:].isdigit()\n")
NAMES_PY = ('"""Robot names."""\n\n\ndef new_name():\n'
            '    letters = "".join(random.choice(string.ascii_uppercase) for _ in range(2))\n'
            '    return letters + f"{random.randrange(1000):03d}"\n')


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_a_file_that_forgot_its_imports_is_green_at_round_zero(fake_llm, llm_env,
                                                              tmp_path: Path) -> None:
    """Without the added imports every test fails on a NameError and a repair round is spent."""
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "test_robot.py").write_text(NAMES)
    spec = folder / "robot.md"
    spec.write_text("# Robot\nA module `robot.py` with `new_name()`: two capital letters, then "
                    "three digits.\n## Tests\n- test_robot.py\n")
    fake_llm.responder = ProjectModel({"robot.py": NAMES_PY})
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["build", str(spec), "-o", str(out), "--no-cache",
                                      "--max-iters", "0"], env=llm_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((out / ".healer" / "report.json").read_text())
    assert report["status"] == "green" and report["best_round"] == 0
    assert (out / "robot.py").read_text().startswith(
        '"""Robot names."""\nimport random\nimport string\n')


def test_a_name_that_differs_only_in_case_from_one_the_module_defines_is_spelled_as_it() -> None:
    source = ('FOUR_OF_A_KIND = "four"\nYACHT = "yacht"\n\n\ndef score(dice, category):\n'
              '    if category == Four_OF_A_KIND:\n        return 4 * max(dice)\n'
              '    return 50 if category == yacht and len(set(dice)) == 1 else true\n')
    fixed = fix_names("yacht.py", source)
    assert "category == FOUR_OF_A_KIND:" in fixed and "category == YACHT and" in fixed
    assert fixed.endswith("else True\n")
    namespace: dict[str, object] = {}
    exec(compile(fixed, "yacht.py", "exec"), namespace)  # noqa: S102 - our own test source
    assert namespace["score"]([5, 5, 5, 5, 2], "four") == 20


@pytest.mark.parametrize("source", [
    "TOTAL = 1\nTotal = 2\n\n\ndef f():\n    return total\n",  # two names it could be
    "def f():\n    count = 1\n    return g()\n\n\ndef g():\n    return Count\n",  # a local's
])
def test_a_spelling_that_is_not_certain_is_left_alone(source: str) -> None:
    assert fix_names("m.py", source) == source


def test_a_respelled_name_after_non_ascii_text_on_its_line() -> None:
    source = 'NAME = "é"\n\n\ndef f():\n    return {"clé": Name}\n'
    assert fix_names("m.py", source).endswith('return {"clé": NAME}\n')


def test_a_builtin_function_is_not_taken_for_a_constant_left_undefined() -> None:
    source = "def clamp(x):\n    return x if x < Max else Max\n"
    assert fix_names("m.py", source) == source


@pytest.mark.parametrize(("module", "source"), [
    ("tabnanny", "def f(path):\n    return tabnanny.check(path)\n"),  # a module used as one
    ("fractions", "def half():\n    return Fraction(1, 2)\n"),  # a class taken from one
])
def test_a_folders_own_module_under_a_stdlib_name_is_never_imported_on_the_host(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, source: str) -> None:
    """`python -m healer debug` in an untrusted folder has that folder on sys.path."""
    marker = tmp_path / "ran"
    (tmp_path / f"{module}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ncheck = 1\nclass Fraction: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    assert fix_names("m.py", source) == source
    assert not marker.exists()


def test_a_modules_own_name_used_bare_is_spelled_as_the_one_name_it_defines() -> None:
    # yacht's round 0 (repair-answers-ab): `return yacht` in yacht.py beside `YACHT = 50`; the
    # project's module list holds `yacht` itself, but a module never imports itself
    source = "YACHT = 50\nONES = 1\n\n\ndef score(dice, category):\n" \
             "    if category == YACHT:\n        return yacht\n    return 0\n"
    local = local_modules(["yacht.py", "yacht_test.py"])
    fixed = file_from_answer(f"```python\n{source}```\n", "yacht.py", local).content
    assert "        return YACHT\n" in fixed
    # with an attribute it reads (`yacht.score`) the own name is not a spelling slip: left
    attribute = source.replace("return yacht\n", "return yacht.score(dice, ONES)\n")
    assert fix_names("yacht.py", attribute, local) == attribute
    # another module of the project keeps its name: `yacht` in app.py may mean the module
    assert fix_names("app.py", source, local) == source
