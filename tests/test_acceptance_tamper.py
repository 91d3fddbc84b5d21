"""Ways generated code could fake green, each tried against the real Docker sandbox.

The project's `add` is wrong, so an honest run passes 3 of 5 acceptance tests. Every attack
below must leave the round red: either the run is judged as if the attack were not there (the
project's test configuration is not loaded), or the run is voided as tampered with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from healer.checks import acceptance
from healer.checks.acceptance import Contract

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Symlink:
    """A project file that is a symbolic link to `target`."""

    target: str

TEST_CALC = '''import statistics
import unittest

from calc import add, mul


def test_add():
    assert add(1, 2) == statistics.mean([3, 3])


def test_mul():
    assert mul(2, 3) == 6


class TestMore(unittest.TestCase):
    def test_add_again(self):
        self.assertEqual(add(2, 2), 4)
'''
TEST_OTHER = '''from calc import mul


def test_mul_again():
    assert mul(3, 3) == 9


def test_mul_zero():
    assert mul(0, 5) == 0
'''
BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIXED = BUGGY.replace("a - b", "a + b")
REWRITE = '''
from _pytest.reports import TestReport as _R
_orig = _R.__init__
def _init(self, *a, **k):
    _orig(self, *a, **k)
    self.outcome = "passed"
    self.longrepr = None
_R.__init__ = _init
'''

# the pytest plugin manager, reached without gc: up the stack from project code that pytest
# is importing, to a collector that holds the run's configuration
FIND_PLUGIN_MANAGER = """
import sys
_frame, pm = sys._getframe(), None
while _frame is not None and pm is None:
    for _value in list(_frame.f_locals.values()):
        _config = getattr(_value, "config", None)
        if _config is not None and hasattr(_config, "pluginmanager"):
            pm = _config.pluginmanager
            break
    _frame = _frame.f_back
"""
PASS_ALL = "report.outcome = 'passed'; report.longrepr = None"

ATTACKS = {
    # name: (files added or replaced, words the verdict must contain)
    "conftest collect_ignore": ({"conftest.py": "collect_ignore = ['test_calc.py']\n"},
                                "3 of 5"),
    "conftest rewrites failed reports": ({"conftest.py": (
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n    outcome = yield\n"
        "    report = outcome.get_result()\n    report.outcome = 'passed'\n")}, "3 of 5"),
    "conftest drops the failing tests": ({"conftest.py": (
        "def pytest_collection_modifyitems(items):\n"
        "    items[:] = [i for i in items if 'add' not in i.name]\n")}, "3 of 5"),
    "pytest.ini deselects the failing test": (
        {"pytest.ini": "[pytest]\naddopts = --deselect test_calc.py::test_add -p no:unittest\n"},
        "3 of 5"),
    "setup.cfg deselects the failing tests": ({"setup.cfg": (
        "[tool:pytest]\naddopts = --deselect test_calc.py::test_add "
        "--deselect test_calc.py::TestMore::test_add_again\n")}, "3 of 5"),
    "pyproject addopts": ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-k mul'\n"},
                          "3 of 5"),
    "a fake pytest module in the project": ({"pytest.py": (
        "import sys\nprint('5 passed')\nsys.exit(0)\n")}, "3 of 5"),
    "a standard-library module shadowed": ({"statistics.py": "def mean(values):\n    return -1\n"},
                                           "3 of 5"),
    "sitecustomize in the project": ({"sitecustomize.py": (
        "import builtins\nbuiltins.AssertionError = type('E', (Exception,), {})\n")}, "3 of 5"),
    "os._exit(0) at import": ({"calc.py": BUGGY + "import os\nos._exit(0)\n"},
                              "without healer's report"),
    "sys.exit(0) at import": ({"calc.py": BUGGY + "import sys\nsys.exit(0)\n"}, "0 of 5"),
    "module-level skip": ({"calc.py": BUGGY + (
        "import pytest\npytest.skip('later', allow_module_level=True)\n")}, "0 of 5"),
    "forged report on every stream": ({"calc.py": BUGGY + (
        "import os, atexit\n"
        "line = '=====healer-acceptance-report ' + 'e30=' + ' ' + 'a' * 64 + '=====\\n'\n"
        "key = '=====healer-acceptance-key ' + 'b' * 64 + '=====\\n'\n"
        "def forge():\n"
        "    for fd in range(1, 64):\n"
        "        try:\n            os.write(fd, (key + line).encode())\n"
        "        except OSError:\n            pass\n"
        "forge()\natexit.register(forge)\n")}, "tampered with"),
    "unittest assertEqual patched": ({"calc.py": BUGGY + (
        "import unittest\nunittest.TestCase.assertEqual = lambda self, a, b, msg=None: None\n")},
        "assertEqual was replaced"),
    "pytest's reports rewritten": ({"calc.py": BUGGY + REWRITE.replace(
        "from _pytest.reports import TestReport as _R",
        "import importlib\n_R = importlib.import_module('_py' + 'test.reports').TestReport")},
        "was replaced during the run"),
    "a plugin registered from project code": ({"calc.py": BUGGY + FIND_PLUGIN_MANAGER + (
        "class _Pass:\n"
        "    def pytest_runtest_logreport(self, report):\n        report.outcome = 'passed'\n"
        "pm.register(_Pass(), 'pass-all')\n")}, "registered a pytest plugin"),
    "a plugin class that says it is pytest's": ({"calc.py": BUGGY + FIND_PLUGIN_MANAGER + (
        "import pytest\nclass _Pass:\n    @pytest.hookimpl(tryfirst=True)\n"
        f"    def pytest_runtest_logreport(self, report):\n        {PASS_ALL}\n"
        "_Pass.__module__ = 'pytest'\npm.register(_Pass(), 'helper')\n")},
        "registered a pytest plugin"),
    "a plugin module with no file": ({"calc.py": BUGGY + FIND_PLUGIN_MANAGER + (
        "import types, pytest\n_m = types.ModuleType('helper')\n"
        f"def _logreport(report):\n    {PASS_ALL}\n"
        "_m.pytest_runtest_logreport = pytest.hookimpl(tryfirst=True)(_logreport)\n"
        "pm.register(_m)\n")}, "registered a pytest plugin"),
    "hook calls monitored": ({"calc.py": BUGGY + FIND_PLUGIN_MANAGER + (
        "def _before(name, impls, kwargs):\n    report = kwargs.get('report')\n"
        "    if report is not None and report.failed:\n"
        f"        {PASS_ALL}\n"
        "pm.add_hookcall_monitoring(_before, lambda *a: None)\n")}, "hook calling was replaced"),
    "the interpreter's objects walked": ({"calc.py": BUGGY + (
        "import gc\nfor obj in gc.get_objects():\n"
        "    if type(obj).__name__ == 'Config':\n        break\n")}, "gc.get_objects"),
    "pytest's runner given other code": ({"calc.py": BUGGY + (
        "import pytest\ndef _quiet(self):\n    pass\n"
        "for cls in [pytest.Function, *pytest.Function.__subclasses__()]:\n"
        "    if 'runtest' in vars(cls):\n        cls.runtest.__code__ = _quiet.__code__\n")},
        "was replaced during the run"),
    "unittest assertEqual given other code": ({"calc.py": BUGGY + (
        "import unittest\ndef _ok(self, first, second, msg=None):\n    pass\n"
        "unittest.TestCase.assertEqual.__code__ = _ok.__code__\n")},
        "assertEqual was replaced"),
    "a standard-library function the tests use replaced": ({"calc.py": BUGGY + (
        "import statistics\nstatistics.mean = lambda values: -1\n")},
        "statistics.mean was replaced"),
    "a conftest that is a symlink": ({"helper_cfg.py": (
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\n"
        "def pytest_runtest_makereport(item, call):\n    outcome = yield\n"
        "    report = outcome.get_result()\n    report.outcome = 'passed'\n"),
        "conftest.py": Symlink("helper_cfg.py")}, "3 of 5"),
    "another acceptance test rewritten at import": ({"calc.py": BUGGY + (
        "from pathlib import Path\n"
        "Path('test_other.py').write_text('def test_mul_again():\\n    pass\\n\\n\\n"
        "def test_mul_zero():\\n    pass\\n')\n")}, "not the user's file"),
    "another acceptance test deleted at import": ({"calc.py": BUGGY + (
        "import os\nos.remove('test_other.py')\n")}, "not collected"),
    "an answer that equals anything": ({"calc.py": (
        "class _Any:\n    def __eq__(self, other):\n        return True\n\n\n"
        "def add(a, b):\n    return _Any()\n\n\ndef mul(a, b):\n    return a * b\n")},
        "always returns True"),
}


@pytest.fixture(scope="module")
def sandbox(docker_sandbox):
    return docker_sandbox


@pytest.fixture(scope="module")
def contract(sandbox, tmp_path_factory) -> Contract:
    user = tmp_path_factory.mktemp("user")
    (user / "test_calc.py").write_text(TEST_CALC)
    (user / "test_other.py").write_text(TEST_OTHER)
    files = {"test_calc.py": user / "test_calc.py", "test_other.py": user / "test_other.py"}
    return acceptance.collect(files, sandbox, timeout=60)


def project(tmp_path: Path, files: dict[str, str | Symlink]) -> Path:
    root = tmp_path / "project"
    for rel, text in {"calc.py": BUGGY, "test_calc.py": TEST_CALC, "test_other.py": TEST_OTHER,
                      **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, Symlink):
            (root / rel).symlink_to(text.target)
        else:
            (root / rel).write_text(text)
    return root


def verdict_text(check) -> str:
    return check.detail + "\n" + "\n".join(f.message for f in check.failures)


def test_the_contract_holds_every_test_of_both_files(contract) -> None:
    assert contract.ids == ["test_calc.py::test_add", "test_calc.py::test_mul",
                            "test_calc.py::TestMore::test_add_again",
                            "test_other.py::test_mul_again", "test_other.py::test_mul_zero"]


def test_an_honest_run_is_judged_test_by_test(sandbox, contract, tmp_path) -> None:
    red = acceptance.run(project(tmp_path / "red", {}), contract, sandbox, timeout=60)
    assert not red.passed and (red.tests_passed, red.tests_total) == (3, 5)
    assert any("test_add failed" in f.message for f in red.failures)
    green = acceptance.run(project(tmp_path / "green", {"calc.py": FIXED}), contract, sandbox,
                           timeout=60)
    assert green.passed and green.tests_passed == 5, verdict_text(green)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attempt_to_fake_green_leaves_the_round_red(sandbox, contract, tmp_path, name) -> None:
    files, words = ATTACKS[name]
    check = acceptance.run(project(tmp_path, files), contract, sandbox, timeout=60)
    assert not check.passed, verdict_text(check)
    assert (check.tests_passed or 0) <= 3
    assert words in verdict_text(check), verdict_text(check)


def test_the_same_attacks_on_a_fixed_project_are_still_voided(sandbox, contract, tmp_path) -> None:
    # tampering voids the run even where the code is right: no test of it counts
    calc = FIXED + "import unittest\nunittest.TestCase.assertEqual = lambda *a, **k: None\n"
    check = acceptance.run(project(tmp_path, {"calc.py": calc}), contract, sandbox, timeout=60)
    assert not check.passed and check.tests_passed == 0


DATA_TEST = ("import json\nfrom pathlib import Path\n\nfrom calc import add\n\n\n"
             "def test_cases():\n"
             "    for a, b, want in json.loads((Path(__file__).parent / 'cases.json')"
             ".read_text()):\n        assert add(a, b) == want\n")
FORGED_READ = """
import pathlib
_read_text = pathlib.Path.read_text
def _forged(self, *args, **kwargs):
    text = _read_text(self, *args, **kwargs)
    return "[[1, 2, -1], [2, 2, 0]]" if self.name == "cases.json" else text
pathlib.Path.read_text = _forged
"""
HELPER_TEST = ("from calc import add\n\n\ndef expected(a, b):\n    return a + b\n\n\n"
               "def test_add():\n    assert add(1, 2) == expected(1, 2)\n")
CLOSE_TEST = ("import math\n\nfrom calc import add\n\n\n"
              "def test_close():\n    assert math.isclose(add(0.1, 0.2), 0.3)\n")


def _run_own(sandbox, tmp_path: Path, tests: dict[str, str], calc: str):
    """The acceptance check of a project whose calc.py is `calc`, against `tests`."""
    user = tmp_path / "user"
    user.mkdir(parents=True)
    for rel, text in tests.items():
        (user / rel).write_text(text)
    contract = acceptance.collect({rel: user / rel for rel in tests}, sandbox, timeout=60)
    root = tmp_path / "project"
    root.mkdir()
    for rel, text in {"calc.py": calc, **tests}.items():
        (root / rel).write_text(text)
    return acceptance.run(root, contract, sandbox, timeout=60)


@pytest.mark.parametrize(("tests", "calc", "words"), [
    ({"test_cases.py": DATA_TEST, "cases.json": "[[1, 2, 3], [2, 2, 4]]\n"},
     BUGGY + "open('cases.json', 'w').write('[[1, 2, -1], [2, 2, 0]]')\n",
     "cases.json is not the user's file"),
    ({"test_cases.py": DATA_TEST, "cases.json": "[[1, 2, 3], [2, 2, 4]]\n"},
     BUGGY + FORGED_READ, "pathlib.Path.read_text was replaced"),  # the file itself unchanged
    ({"test_close.py": CLOSE_TEST},  # math is compiled into the interpreter
     BUGGY + "import math\nmath.isclose = lambda *args, **kwargs: True\n",
     "math.isclose was replaced"),
    ({"test_close.py": CLOSE_TEST}, BUGGY + "import math\nmath.isclose = max\n",
     "math.isclose was replaced"),  # by a builtin: no project code in sight
    ({"test_helper.py": HELPER_TEST}, (  # the tests' own helper, rebound from project code
        "import sys\n\n\ndef add(a, b):\n"
        "    sys._getframe(1).f_globals['expected'] = lambda x, y: x - y\n    return a - b\n"),
     "test_helper.expected was replaced"),
], ids=["data file rewritten", "data file read forged", "built-in module's function",
        "by a builtin", "a test's helper"])
def test_what_the_tests_read_or_call_cannot_be_forged(sandbox, tmp_path, tests, calc,
                                                      words) -> None:
    assert not _run_own(sandbox, tmp_path / "honest", tests, BUGGY).passed
    check = _run_own(sandbox, tmp_path / "forged", tests, calc)
    assert not check.passed and check.tests_passed == 0
    assert words in verdict_text(check), verdict_text(check)


HONEST_TEST = """import gc
import logging
import threading

from calc import add


def test_add_leaks_nothing():
    before = len(gc.get_objects())  # a leak test may walk the interpreter's objects
    assert add(2, 3) == 5
    assert len(gc.get_objects()) < before + 1000
    logging.getLogger("calc").info("added")
    assert threading.active_count() >= 1
"""
HONEST_CALC = FIXED + """
import logging
import threading


class _Logger(logging.Logger):
    pass


logging.setLoggerClass(_Logger)  # what an application may set up: not what the tests use
threading.excepthook = lambda args: None
"""


def test_an_honest_project_that_sets_up_the_standard_library_stays_green(sandbox,
                                                                        tmp_path) -> None:
    check = _run_own(sandbox, tmp_path, {"test_honest.py": HONEST_TEST}, HONEST_CALC)
    assert check.passed and check.tests_passed == 1, verdict_text(check)
