"""healer's pytest plugin for acceptance runs. It runs inside the sandbox, loaded with `-p`
before any project code is imported; standard library and pytest only.

- At load it makes a fresh key and prints it first, on a private copy of stdout. The report it
  prints at the end is signed with that key, so a report written by anything else (a file left
  in place, a line printed by project code) does not verify.
- It records the outcome of every test by phase, and the ids collected.
- It snapshots what decides outcomes (pytest's runner and reports, unittest's assertions,
  pytest's helpers, the builtins) and the plugins registered, and at the end reports anything
  that changed, any plugin that project code registered, and any acceptance file whose content
  is not the user's.
- For every failing test it records the facts of the failure: the test's line that failed, the
  values an assertion compared (pytest's assertion introspection, or unittest's assertEqual
  family), the exception, and the last frame in the project's own code.
- In collect mode (HEALER_ACCEPTANCE_MODE=collect) modules that nothing provides are stubbed,
  so the acceptance tests can be collected without the project's code.
"""

import base64
import builtins
import hashlib
import hmac
import json
import os
import sys
import types
import unittest

import pytest

KEY_TAG = "=====healer-acceptance-key "
REPORT_TAG = "=====healer-acceptance-report "
_MODE = os.environ.get("HEALER_ACCEPTANCE_MODE", "run")
_EXPECTED = json.loads(os.environ.get("HEALER_ACCEPTANCE_FILES") or "{}")  # rel path -> sha256
# where the project and its installed dependencies live: nothing of pytest may come from there
_UNTRUSTED = tuple(os.path.realpath(p) for p in [
    os.environ.get("HEALER_ACCEPTANCE_ROOT") or os.getcwd(), "/src", "/deps",
    *os.environ.get("PYTHONPATH", "").split(os.pathsep)] if p)
_KEY = os.urandom(32)
_OUT = os.dup(1)
os.write(_OUT, f"\n{KEY_TAG}{_KEY.hex()}=====\n".encode())
_state = {"results": {}, "collected": None, "errors": {}, "tamper": [], "plugins": None,
          "facts": {}}
_SHOWN = 300  # characters of a value or a line in the facts


def _untrusted(path):
    path = os.path.realpath(str(path or ""))
    return any(path == p or path.startswith(p + os.sep) for p in _UNTRUSTED)


def _tamper(what):
    if what not in _state["tamper"]:
        _state["tamper"].append(what)


# ---------------------------------------------------------------- collect mode: stubs


class _Stub:
    """Anything a test module takes from a module that does not exist yet."""

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Stub()

    def __call__(self, *args, **kwargs):
        return _Stub()

    def __iter__(self):
        return iter(())

    def __getitem__(self, key):
        return _Stub()

    def __mro_entries__(self, bases):
        return (object,)


class _StubFinder:
    """Last on sys.meta_path: only modules that nothing else provides are stubbed."""

    def find_spec(self, name, path=None, target=None):
        import importlib.machinery

        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = lambda attr: _Stub()
        return module

    def exec_module(self, module):
        pass


if _MODE == "collect":
    sys.meta_path.append(_StubFinder())


# ---------------------------------------------------------------- what must not change


def _modules(*names):
    import importlib

    found = []
    for name in names:
        try:
            found.append(importlib.import_module(name))
        except ImportError:  # moved between pytest versions
            pass
    return found


def _guarded():
    found = {}
    for module in _modules("_pytest.runner", "_pytest.main", "_pytest.outcomes",
                           "_pytest.skipping", "pytest"):
        for name, value in vars(module).items():
            if callable(value) or isinstance(value, property):
                found[f"{module.__name__}.{name}"] = value
    classes = [unittest.TestCase, unittest.TestResult]
    for module, names in (("_pytest.reports", ("BaseReport", "TestReport", "CollectReport")),
                          ("_pytest.python", ("Function", "Module")),
                          ("_pytest.unittest", ("TestCaseFunction",))):
        classes += [getattr(m, n) for m in _modules(module) for n in names if hasattr(m, n)]
    for module in _modules("_pytest.python_api", "_pytest.approx", "_pytest.raises"):
        classes += [v for v in vars(module).values() if isinstance(v, type)]
    for cls in classes:
        for name, value in vars(cls).items():
            found[f"{cls.__module__}.{cls.__qualname__}.{name}"] = value
    for name in dir(builtins):
        found[f"builtins.{name}"] = getattr(builtins, name)
    return found


def _changed(before):
    now = _guarded()
    return sorted(name for name, value in before.items() if now.get(name) is not value)


def _digest(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _check_files(root):
    for rel, expected in _EXPECTED.items():
        if _digest(os.path.join(root, rel)) != expected:
            _tamper(f"acceptance test {rel} is not the user's file")


def _plugin_origin(plugin):
    if isinstance(plugin, types.ModuleType):
        return getattr(plugin, "__file__", None)
    module = sys.modules.get(type(plugin).__module__)
    return getattr(module, "__file__", None)


def _new_plugins(config):
    allowed = {os.path.realpath(os.path.join(str(config.rootpath), rel)) for rel in _EXPECTED}
    found = []
    for plugin in config.pluginmanager.get_plugins():
        if id(plugin) in _state["plugins"] or plugin is sys.modules[__name__]:
            continue
        origin = _plugin_origin(plugin)
        if origin and _untrusted(origin) and os.path.realpath(origin) not in allowed:
            found.append(config.pluginmanager.get_name(plugin) or repr(plugin))
    return found


# ---------------------------------------------------------------- facts of a failure


def _short(text):
    text = " ".join(str(text).split())
    return text if len(text) <= _SHOWN else text[:_SHOWN] + " [...]"


def _repr(value):
    try:
        return _short(repr(value))
    except Exception as exc:  # noqa: BLE001 - a project object whose repr fails
        return f"<repr failed: {type(exc).__name__}>"


def _statement(entry):
    try:
        return _short(str(entry.statement).strip())
    except Exception:  # noqa: BLE001 - source not readable
        return "?"


def _unittest_compare(error):
    """The values of a failed `self.assertEqual(first, second)` (and its family), read from
    unittest's own frame (pytest leaves it out of the traceback it shows)."""
    tb, found = error.__traceback__, None
    while tb is not None:
        code = tb.tb_frame.f_code
        values = tb.tb_frame.f_locals
        if (code.co_name.startswith("assert") and os.sep + "unittest" + os.sep in code.co_filename
                and "first" in values and "second" in values):
            found = (f"{code.co_name}(first={_repr(values['first'])}, "
                     f"second={_repr(values['second'])})")
        tb = tb.tb_next
    return found


def _facts(item, excinfo):
    root = str(item.config.rootpath)
    test_file = os.path.realpath(str(item.path))
    message = str(excinfo.value).strip().splitlines()
    facts = {"raised": _short(f"{excinfo.typename}: {message[0] if message else ''}")}
    for entry in excinfo.traceback:
        path = os.path.realpath(str(entry.path))
        rel = os.path.relpath(path, root)
        where = f"{rel}:{entry.lineno + 1}"
        if path == test_file:
            facts["test line"] = f"{where}: {_statement(entry)}"
        elif (path.startswith(root + os.sep) and rel not in _EXPECTED
              and os.sep + "site-packages" + os.sep not in path):
            facts["in project code"] = f"{where} in {entry.name}: {_statement(entry)}"
    compared = _unittest_compare(excinfo.value) or _state.pop("compare", None)
    if compared:
        facts["compared"] = compared
    return facts


# ---------------------------------------------------------------- hooks


def pytest_assertrepr_compare(config, op, left, right):
    _state["compare"] = f"{_repr(left)} {op} {_repr(right)} is false"
    # pytest's own explanation still goes in the log


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when == "setup":
        _state.pop("compare", None)
    if report.failed and call.excinfo is not None and item.nodeid not in _state["facts"]:
        try:
            _state["facts"][item.nodeid] = _facts(item, call.excinfo)
        except Exception as exc:  # noqa: BLE001 - facts help a repair, never decide
            _state["facts"][item.nodeid] = {"raised": _short(f"(facts not read: {exc!r})")}



def pytest_configure(config):
    import _pytest
    import pytest

    for module in (pytest, _pytest):
        if _untrusted(module.__file__):
            _tamper(f"{module.__name__} was imported from {module.__file__}")
    for name in ("sitecustomize", "usercustomize"):
        module = sys.modules.get(name)
        if module is not None and _untrusted(getattr(module, "__file__", "")):
            _tamper(f"{name} was loaded from {module.__file__}")
    _state["guarded"] = _guarded()
    _state["plugins"] = {id(p) for p in config.pluginmanager.get_plugins()}
    _check_files(str(config.rootpath))


def pytest_make_collect_report(collector):
    path = getattr(collector, "path", None)
    if path is not None and str(path).endswith(".py"):
        rel = os.path.relpath(str(path), str(collector.config.rootpath))
        if rel in _EXPECTED and _digest(str(path)) != _EXPECTED[rel]:
            _tamper(f"acceptance test {rel} was changed before it was collected")


def pytest_runtest_call(item):
    _check_files(str(item.config.rootpath))  # data files the tests read, too


def pytest_collectreport(report):
    if report.failed:
        text = str(report.longrepr or "").strip().splitlines()
        _state["errors"][report.nodeid] = (text[-1] if text else "collection failed")[:500]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    _state["collected"] = [item.nodeid for item in items]


def pytest_runtest_logreport(report):
    phases = _state["results"].setdefault(report.nodeid, {})
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif report.skipped:
        outcome = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    else:
        outcome = "passed"
    phases[report.when] = outcome


def _verdict(phases):
    for when in ("setup", "call", "teardown"):
        outcome = phases.get(when)
        if outcome is None and when == "call":
            return "not run"
        if outcome not in (None, "passed"):
            return outcome
    return "passed"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if "guarded" in _state:
        for name in _changed(_state["guarded"]):
            _tamper(f"{name} was replaced during the run")
        for name in _new_plugins(config):
            _tamper(f"project code registered a pytest plugin: {name}")
        _check_files(str(config.rootpath))
    report = {
        "mode": _MODE,
        "collected": _state["collected"] or [],
        "outcomes": {nodeid: _verdict(p) for nodeid, p in _state["results"].items()},
        "errors": _state["errors"],
        "tamper": _state["tamper"],
        "facts": _state["facts"],
        "exitstatus": int(exitstatus),
    }
    body = base64.b64encode(json.dumps(report, sort_keys=True).encode()).decode()
    mac = hmac.new(_KEY, body.encode(), hashlib.sha256).hexdigest()
    os.write(_OUT, f"\n{REPORT_TAG}{body} {mac}=====\n".encode())
