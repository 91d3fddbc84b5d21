from pathlib import Path

from healer.models import FileList, PlannedFile
from healer.pipeline.layout import align_with_tests


def files(*paths: str) -> FileList:
    return FileList(files=[PlannedFile(path=p) for p in paths])


def test_modules_move_to_where_the_tests_import_them(tmp_path: Path) -> None:
    test = tmp_path / "acronym_test.py"
    test.write_text("import pytest\nfrom acronym import abbreviate\nimport helpers.util\n")
    aligned = align_with_tests(
        files("acronym/acronym.py", "acronym_test/acronym_test.py", "helpers/util.py", "x/y.py"),
        {"acronym_test.py": test})
    assert [f.path for f in aligned.files] == ["acronym.py", "helpers/util.py", "x/y.py"]


def test_an_existing_top_level_module_or_package_is_left_alone(tmp_path: Path) -> None:
    test = tmp_path / "test_calc.py"
    test.write_text("from calc import add\n")
    both = files("calc.py", "old/calc.py")
    assert [f.path for f in align_with_tests(both, {"tests/test_calc.py": test}).files] == \
        ["calc.py", "old/calc.py"]
    package = files("calc/__init__.py", "calc/calc.py")
    assert [f.path for f in align_with_tests(package, {"test_calc.py": test}).files] == \
        ["calc/__init__.py", "calc/calc.py"]
