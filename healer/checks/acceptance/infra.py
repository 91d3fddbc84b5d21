"""Test infrastructure: files that change how tests are collected or run.

A model may create or change them only when the spec names them as files of the project;
otherwise an edit to one is refused with the reason, like an edit to an acceptance test.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import tomllib
from pathlib import PurePosixPath

INFRA_NAMES = frozenset({
    "conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini",
    "sitecustomize.py", "usercustomize.py", ".taprc", ".mocharc", "noxfile.py",
    "pytest.py",  # stands in for pytest itself in `python -m pytest`
    "Makefile", "makefile", "GNUmakefile",  # what a `make test` check runs
})
INFRA_GLOBS = ("*.pth", ".mocharc.*", "jest.config.*", "vitest.config.*", "ava.config.*",
               "karma.conf.*", "playwright.config.*", ".c8rc*", ".nycrc*")
NODE_TEST_KEYS = ("jest", "mocha", "ava", "vitest", "c8", "nyc")
REASON = ("test infrastructure: {what} changes how the acceptance tests are collected or run, "
          "and the spec does not make it a file of the project; change the code instead")


def is_infra_file(rel: str) -> bool:
    """A file that is test infrastructure whatever it holds (conftest.py, pytest.ini, ...)."""
    name = PurePosixPath(rel).name.casefold()  # Conftest.py is conftest.py on macOS
    return (name in {n.casefold() for n in INFRA_NAMES}
            or any(fnmatch.fnmatchcase(name, g.casefold()) for g in INFRA_GLOBS))


def _pyproject_section(text: str) -> object:
    try:
        return tomllib.loads(text).get("tool", {}).get("pytest")
    except tomllib.TOMLDecodeError:
        return [line for line in text.splitlines() if "pytest" in line]


def _setup_cfg_section(text: str) -> object:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return [line for line in text.splitlines() if "pytest" in line]
    return dict(parser["tool:pytest"]) if parser.has_section("tool:pytest") else None


def _package_json_section(text: str) -> object:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return [line for line in text.splitlines() if any(k in line for k in NODE_TEST_KEYS)]
    if not isinstance(data, dict):
        return None
    scripts = data.get("scripts")
    return {**{k: data.get(k) for k in NODE_TEST_KEYS},  # and what `npm test` runs
            "scripts.test": scripts.get("test") if isinstance(scripts, dict) else scripts}


SECTIONS = {
    "pyproject.toml": ("its [tool.pytest] table", _pyproject_section),
    "setup.cfg": ("its [tool:pytest] section", _setup_cfg_section),
    "package.json": ("its test-runner settings", _package_json_section),
}


def infra_change(rel: str, old: str | None, new: str | None) -> str | None:
    """Why writing `new` over `old` at `rel` changes test infrastructure, or None."""
    name = PurePosixPath(rel).name
    if is_infra_file(rel):
        return None if old == new else REASON.format(what=f"`{rel}`")
    if name in SECTIONS:
        what, section = SECTIONS[name]
        if section(old or "") != section(new or ""):
            return REASON.format(what=f"`{rel}` ({what})")
    return None
