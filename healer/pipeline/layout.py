"""Make the file list agree with the user's acceptance tests, which are the contract.

Small models like to nest modules in folders (`acronym/acronym.py`) or to plan their own copy
of a test they were given; both break the tests' imports. Acceptance tests are fixed, so the
plan moves instead: a planned Python module whose name the tests import goes where they
import it from, and a planned file named like an acceptance test is dropped.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from healer.models import FileList, PlannedFile
from healer.pyimports import parsed_imports

log = logging.getLogger(__name__)


def align_with_tests(file_list: FileList, tests: dict[str, Path]) -> FileList:
    imported = tested_modules(tests.values())
    test_names = {PurePosixPath(rel).name for rel in tests}
    taken = {f.path for f in file_list.files}
    aligned: dict[str, PlannedFile] = {}
    for planned in file_list.files:
        if PurePosixPath(planned.path).name in test_names:
            log.info("dropping %s: the acceptance tests provide it", planned.path)
            continue
        path = _importable_path(planned.path, imported, taken)
        if path != planned.path:
            log.info("moving %s to %s, where the acceptance tests import it", planned.path, path)
        aligned.setdefault(path, planned.model_copy(update={"path": path}))
    return FileList(files=list(aligned.values()))


def tested_modules(test_files: object) -> set[str]:
    """Top-level module names that the test files import."""
    names: set[str] = set()
    for path in test_files:  # type: ignore[attr-defined]
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        names.update(found.top for found in parsed_imports(text) if found.top)
    return names


def _importable_path(path: str, imported: set[str], taken: set[str]) -> str:
    pure = PurePosixPath(path)
    if pure.suffix != ".py" or len(pure.parts) == 1 or pure.stem not in imported:
        return path
    if f"{pure.parts[0]}/__init__.py" in taken:  # inside a real package, e.g. app/models.py
        return path
    top = f"{pure.stem}.py"
    return path if top in taken or f"{pure.stem}/__init__.py" in taken else top
