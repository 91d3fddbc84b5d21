"""A folder healer is pointed at may hold a git repository prepared by someone else, and its
configuration can make git run commands by itself: hooks on every commit, checkout or ref
update, an fsmonitor on every status, filter and diff drivers on add, checkout and diff.
None of them may run on this machine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from healer.errors import UsageError
from healer.workspace import Workspace


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    """A user's repository with one commit, and where its commands would leave their mark."""
    root, mark = tmp_path / "repo", tmp_path / "ran"
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "app.py").write_text("x = 1\n")
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "one",
                    "--allow-empty"], cwd=root, check=True)
    return root, mark


def _script(path: Path, mark: Path) -> str:
    path.write_text(f"#!/bin/sh\necho ran >> {mark}\ncat\n")
    path.chmod(0o755)
    return str(path)


def test_a_repositorys_hooks_and_fsmonitor_never_run(tmp_path: Path) -> None:
    root, mark = _repo(tmp_path)
    for hook in ("pre-commit", "post-commit", "reference-transaction", "post-checkout",
                 "post-merge", "post-index-change"):
        _script(root / ".git" / "hooks" / hook, mark)
    monitor = _script(tmp_path / "monitor.sh", mark)
    subprocess.run(["git", "config", "core.fsmonitor", monitor], cwd=root, check=True)
    ws = Workspace(root, adopt=True)
    ws.init()  # its own branch: a checkout, a ref update
    (root / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    first = ws.commit("round 0")
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    assert ws.dirty() and ws.pending_diff(["calc.py"])
    ws.commit("round 1")
    ws.restore(first)
    assert not mark.exists()


@pytest.mark.parametrize("key", ["filter.evil.clean", "filter.evil.smudge", "filter.evil.process",
                                 "diff.evil.textconv", "merge.evil.driver"])
def test_a_repository_whose_configuration_names_commands_is_refused(tmp_path: Path,
                                                                    key: str) -> None:
    root, mark = _repo(tmp_path)
    (root / ".gitattributes").write_text("* filter=evil diff=evil merge=evil\n")
    subprocess.run(["git", "config", key, _script(tmp_path / "evil.sh", mark)], cwd=root,
                   check=True)
    with pytest.raises(UsageError, match=key.replace(".", r"\.")):
        Workspace(root, adopt=True).init()
    with pytest.raises(UsageError, match="does not run a folder's commands"):
        Workspace(root).commit_paths(["app.py"], "debug: a fix")  # `healer debug`'s commit
    assert not mark.exists()


def test_a_driver_in_a_file_the_configuration_includes_is_refused_too(tmp_path: Path) -> None:
    root, mark = _repo(tmp_path)
    (root / ".gitattributes").write_text("* filter=evil\n")
    included = tmp_path / "more.config"
    included.write_text(f"[filter \"evil\"]\n\tclean = {_script(tmp_path / 'e.sh', mark)}\n")
    subprocess.run(["git", "config", "include.path", str(included)], cwd=root, check=True)
    with pytest.raises(UsageError, match=r"filter\.evil\.clean"):
        Workspace(root, adopt=True).init()
    assert not mark.exists()


@pytest.mark.parametrize("condition", ["onbranch:healer/build", "onbranch:healer/**",
                                       "gitdir:/"])
def test_a_driver_behind_a_conditional_include_is_refused(tmp_path: Path, condition: str) -> None:
    # read on the user's branch the include is off; healer's own branch switches it on, and
    # the next `git add` ran the filter
    root, mark = _repo(tmp_path)
    (root / ".gitattributes").write_text("* filter=evil\n")
    included = tmp_path / "more.config"
    included.write_text(f"[filter \"evil\"]\n\tclean = {_script(tmp_path / 'e.sh', mark)}\n")
    subprocess.run(["git", "config", f"includeIf.{condition}.path", str(included)], cwd=root,
                   check=True)
    with pytest.raises(UsageError, match="includeif"):
        ws = Workspace(root, adopt=True)
        ws.init()
        (root / "calc.py").write_text("x = 2\n")
        ws.commit("round 0")
    assert not mark.exists()


def test_an_external_diff_command_is_refused(tmp_path: Path) -> None:
    root, mark = _repo(tmp_path)
    subprocess.run(["git", "config", "diff.external", _script(tmp_path / "d.sh", mark)],
                   cwd=root, check=True)
    with pytest.raises(UsageError, match=r"diff\.external"):
        Workspace(root, adopt=True).init()
    assert not mark.exists()


def test_a_submodules_own_filter_never_runs(tmp_path: Path) -> None:
    root, mark = _repo(tmp_path)
    sub = root / "sub"
    sub.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=sub, check=True)
    (sub / ".gitattributes").write_text("* filter=evil\n")
    (sub / "data.txt").write_text("one\n")
    subprocess.run(["git", "config", "filter.evil.clean", _script(tmp_path / "e.sh", mark)],
                   cwd=sub, check=True)
    subprocess.run(["git", "add", "data.txt", ".gitattributes"], cwd=sub, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "s"],
                   cwd=sub, check=True)
    subprocess.run(["git", "-c", "protocol.file.allow=always", "-c", "user.name=u", "-c",
                    "user.email=u@x", "submodule", "add", "-q", "./sub"], cwd=root, check=True,
                   capture_output=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "sub"],
                   cwd=root, check=True)
    mark.unlink(missing_ok=True)  # the setup's own commands ran it
    (sub / "data.txt").write_text("two\n")  # the submodule's file changed: status looks inside
    ws = Workspace(root)
    ws.changed_files()
    ws.pending_diff(["sub"])
    assert not mark.exists()


@pytest.mark.parametrize("how", ["gitdir file", "link", "work tree elsewhere"])
def test_a_repository_that_is_not_the_folders_own_is_refused(tmp_path: Path, how: str) -> None:
    victim, _ = _repo(tmp_path / "victim")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "app.py").write_text("x = 1\n")
    if how == "gitdir file":
        (folder / ".git").write_text(f"gitdir: {victim / '.git'}\n")
    elif how == "link":
        (folder / ".git").symlink_to(victim / ".git")
    else:
        subprocess.run(["git", "init", "-q"], cwd=folder, check=True)
        subprocess.run(["git", "config", "core.worktree", str(tmp_path)], cwd=folder, check=True)
    before = subprocess.run(["git", "rev-parse", "HEAD", "--"], cwd=victim,
                            capture_output=True, text=True, check=False).stdout
    with pytest.raises(UsageError, match="not the folder's own"):
        Workspace(folder, adopt=True).init()
    with pytest.raises(UsageError, match="not the folder's own"):
        Workspace(folder).commit_paths(["app.py"], "debug: a fix")
    assert subprocess.run(["git", "rev-parse", "HEAD", "--"], cwd=victim,
                          capture_output=True, text=True, check=False).stdout == before


def test_gitignore_and_exclude_links_are_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".gitignore").symlink_to(outside / "made-by-healer")  # dangling: init would write
    Workspace(fresh, adopt=True).init()
    assert not (outside / "made-by-healer").exists()
    root, _ = _repo(tmp_path)
    (outside / "exclude").write_text("mine\n")
    exclude = root / ".git" / "info" / "exclude"
    exclude.unlink(missing_ok=True)
    exclude.symlink_to(outside / "exclude")
    with pytest.raises(UsageError, match="symbolic link"):
        Workspace(root, adopt=True).init()
    assert (outside / "exclude").read_text() == "mine\n"


def test_a_linked_work_tree_and_a_submodule_checkout_are_the_folders_own(tmp_path: Path) -> None:
    root, _ = _repo(tmp_path)
    (root / "app.py").write_text("x = 1\n")
    subprocess.run(["git", "add", "app.py"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "app"],
                   cwd=root, check=True)
    linked = tmp_path / "linked"
    subprocess.run(["git", "worktree", "add", "-q", str(linked)], cwd=root, check=True)
    (linked / "app.py").write_text("x = 2\n")
    assert Workspace(linked).commit_paths(["app.py"], "debug: a fix")
    library, _ = _repo(tmp_path / "library")
    (library / "lib.py").write_text("y = 1\n")
    subprocess.run(["git", "add", "lib.py"], cwd=library, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "lib"],
                   cwd=library, check=True)
    subprocess.run(["git", "-c", "protocol.file.allow=always", "submodule", "add", "-q",
                    str(library), "lib"], cwd=root, check=True, capture_output=True)
    (root / "lib" / "lib.py").write_text("y = 2\n")
    assert Workspace(root / "lib").commit_paths(["lib.py"], "debug: a fix")


def test_the_key_to_unset_is_named_whole(tmp_path: Path) -> None:
    root, mark = _repo(tmp_path)
    subprocess.run(["git", "config", "filter.a b.clean", _script(tmp_path / "e.sh", mark)],
                   cwd=root, check=True)
    with pytest.raises(UsageError, match=r"\(filter\.a b\.clean\)"):
        Workspace(root, adopt=True).init()
