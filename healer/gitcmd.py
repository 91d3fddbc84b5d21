"""git as healer runs it, in folders it did not create: nothing of the folder runs on this
machine. A repository's own configuration can name commands that git runs by itself: hooks
(on every commit, checkout, merge and ref update), an fsmonitor (on every status), and
filter and diff drivers (on add, checkout and diff). healer's commands switch off the first
two and never step into submodules, never ask for external diffs, and refuse a folder
whose configuration sets a filter, diff or merge driver (`foreign_commands`), or whose
repository is not its own (`foreign_repository`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
        # a submodule is a repository of its own, with a configuration nobody read
        "-c", "diff.ignoreSubmodules=all", "-c", "submodule.recurse=false")
# keys of the folder's own configuration that make git run a command of its choosing
DRIVERS = r"^(filter|merge)\..+\.(clean|smudge|process|driver)$|^diff\..+\.(command|textconv)$"


def git(root: Path, *args: str, text: bool = True) -> subprocess.CompletedProcess:
    """`git ARGS` in `root`, its hooks and fsmonitor off; never raises on a failure."""
    return subprocess.run(["git", *SAFE, *args], cwd=root, capture_output=True, text=text,
                          check=False)


def foreign_commands(root: Path) -> list[str]:
    """The keys of the repository's own configuration (and the files it includes) that name
    a command git would run on healer's add, checkout or diff."""
    result = git(root, "config", "--show-scope", "--get-regexp", DRIVERS)
    found = []
    for line in result.stdout.splitlines():
        scope, _, rest = line.partition("\t")
        if scope in ("local", "worktree"):
            found.append(rest.split(" ", 1)[0])
    return found


def foreign_repository(root: Path) -> str | None:
    """Why the repository `root/.git` is not `root`'s own, or None: a link or a `.git` file
    (either can lead to another repository, whose branch and index healer would change),
    or a work tree set elsewhere (`core.worktree`: healer would commit files outside)."""
    dot_git = root / ".git"
    if dot_git.is_symlink():
        return ".git is a symbolic link"
    if not dot_git.is_dir():
        return ".git is not a folder (it may name a repository elsewhere)"
    top = git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return f"git cannot read it: {top.stderr.strip()[:200]}"
    if Path(top.stdout.strip()).resolve() != root.resolve():
        return f"its work tree is {top.stdout.strip()}, not the folder"
    return None
