import os
from pathlib import Path

import pytest

from healer.errors import PathEscapeError
from healer.models import GeneratedFile
from healer.paths import confined, relative_path
from healer.workspace import Workspace


@pytest.mark.parametrize("raw,clean", [("a.py", "a.py"), ("./pkg//b.py", "pkg/b.py"),
                                       ("`src\\c.js`", "src/c.js")])
def test_relative_paths_are_normalised(raw: str, clean: str) -> None:
    assert relative_path(raw) == clean


@pytest.mark.parametrize("raw", ["/etc/passwd", "C:/x.py", "../x.py", "a/../../x.py", "",
                                 ".git/config", ".healer/report.json"])
def test_escapes_are_refused(raw: str) -> None:
    with pytest.raises(PathEscapeError):
        relative_path(raw)


def test_symlink_escape_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(PathEscapeError, match="symlink"):
        confined(root, "link/evil.py")
    ws = Workspace(root)
    with pytest.raises(PathEscapeError):
        ws.write([GeneratedFile(path="link/evil.py", content="x")])
    assert not (outside / "evil.py").exists()


def test_kept_files_survive_regeneration(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "p")
    ws.init()
    (ws.root / "assets").mkdir()
    (ws.root / "assets" / "logo.svg").write_text("<svg/>")
    written = ws.write([GeneratedFile(path="assets/logo.svg", content="generated"),
                        GeneratedFile(path="app.py", content="x = 1\n")], keep=["assets/*"])
    assert written == ["app.py"] and (ws.root / "assets" / "logo.svg").read_text() == "<svg/>"


def test_kept_and_protected_names_match_in_any_case() -> None:
    from healer.paths import matches

    assert matches("Assets/Logo.SVG", ["assets/*"]) and matches("TESTS/test_app.py",
                                                                ("tests/test_app.py",))
    assert not matches("assets2/logo.svg", ["assets/*"]) and not matches("app.py", [])


@pytest.mark.parametrize("link,points_to,path", [
    ("g", ".git", "g/config"),  # a filter driver there would run on the next commit
    ("lib", "tests", "lib/test_app.py"),  # a protected test, under another name
    ("t.py", "tests/test_app.py", "t.py"),  # a file link: writing follows it
])
def test_a_link_inside_the_project_is_never_written_through(tmp_path: Path, link: str,
                                                            points_to: str, path: str) -> None:
    from healer.errors import EditError
    from healer.models import Edit
    from healer.pipeline.edits import apply_edits

    ws = Workspace(tmp_path / "p")
    ws.init()
    (ws.root / "tests").mkdir()
    (ws.root / "tests" / "test_app.py").write_text("def test_app():\n    assert False\n")
    (ws.root / link).symlink_to(ws.root / points_to)
    before = {p: p.read_bytes() for p in (ws.root / ".git" / "config",
                                          ws.root / "tests" / "test_app.py")}
    with pytest.raises(PathEscapeError, match="symlink"):
        confined(ws.root, path)
    with pytest.raises(EditError):
        apply_edits(ws.root, [Edit(path=path, replace="[filter \"x\"]\n\tclean = touch pwned\n")],
                    protected=["tests/test_app.py"])
    with pytest.raises(PathEscapeError):
        ws.write([GeneratedFile(path=path, content="x")])
    assert all(p.read_bytes() == data for p, data in before.items())


def test_an_edits_temporary_file_is_never_one_left_in_place(tmp_path: Path) -> None:
    from healer.models import Edit
    from healer.pipeline.edits import apply_edits

    root, outside = tmp_path / "root", tmp_path / "outside.txt"
    root.mkdir()
    outside.write_text("mine\n")
    (root / "app.py").write_text("x = 1\n")
    (root / ".app.py.healer-tmp").symlink_to(outside)  # the old fixed temporary name
    apply_edits(root, [Edit(path="app.py", search="x = 1\n", replace="x = 2\n")])
    assert (root / "app.py").read_text() == "x = 2\n" and outside.read_text() == "mine\n"


@pytest.mark.parametrize("raw", ["sub/.git/config", "node_modules/x/index.js", ".venv/bin/activate",
                                 "pkg/__pycache__/a.pyc", "a\0.py", "a\nb.py", "x" * 250 + ".py"])
def test_paths_into_tool_folders_or_with_odd_names_are_refused(raw: str) -> None:
    with pytest.raises(PathEscapeError):
        relative_path(raw)


@pytest.mark.parametrize("path", [".env", "path/to/.env", "config/id_rsa"])
def test_an_edit_to_a_file_of_secrets_is_refused_and_shows_none_of_it(tmp_path: Path,
                                                                     path: str) -> None:
    from healer.errors import EditError
    from healer.models import Edit
    from healer.pipeline.debug import _current_files
    from healer.pipeline.edits import apply_edits

    (tmp_path / "config").mkdir()
    (tmp_path / ".env").write_text("API_KEY=sk-secret-value\n")
    (tmp_path / "config" / "id_rsa").write_text("-----BEGIN KEY----- sk-secret-value\n")
    edit = Edit(path=path, search="API_KEY=sk-secret-valu\n", replace="API_KEY=x\n")
    with pytest.raises(EditError) as caught:
        apply_edits(tmp_path, [edit])
    assert "sk-secret" not in str(caught.value) and "secrets" in str(caught.value)
    assert "sk-secret" not in _current_files(tmp_path, [edit], shown="")
    assert (tmp_path / ".env").read_text() == "API_KEY=sk-secret-value\n"


def test_a_retry_never_shows_a_file_through_a_link_out_of_the_project(tmp_path: Path) -> None:
    from healer.models import Edit
    from healer.pipeline.debug import _current_files

    (tmp_path / "outside.txt").write_text("host secret\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "conf").symlink_to(tmp_path)
    shown = _current_files(root, [Edit(path="conf/outside.txt", search="a", replace="b")], "")
    assert "host secret" not in shown


@pytest.mark.parametrize("raw", [".GIT/config", ".Healer/report.json", "sub/.Git/hooks/x",
                                 "Node_Modules/x.js"])
def test_healers_and_tools_folders_are_refused_in_any_case(raw: str) -> None:
    with pytest.raises(PathEscapeError):  # one folder where names ignore case (macOS)
        relative_path(raw)


def test_protected_tests_and_test_infrastructure_are_known_in_any_case() -> None:
    from healer.checks.acceptance.infra import is_infra_file
    from healer.pipeline.policy import EditPolicy

    policy = EditPolicy(protected=("tests/test_app.py",))
    assert policy.is_protected("Tests/Test_App.py") and not policy.is_protected("tests/app.py")
    assert is_infra_file("Conftest.py") and is_infra_file("sub/PYTEST.INI")
    assert not is_infra_file("config.py")
