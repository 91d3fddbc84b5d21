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
