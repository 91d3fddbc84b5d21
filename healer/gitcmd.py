"""git as healer runs it, in folders it did not create: nothing of the folder runs on this
machine. A repository's own configuration can name commands that git runs by itself: hooks
(on every commit, checkout, merge and ref update), an fsmonitor (on every status), and
filter and diff drivers (on add, checkout and diff). healer's commands switch off the first
two and never step into submodules, never ask for external diffs, and refuse a folder
whose configuration sets a filter, diff or merge driver or includes more configuration under
a condition (`foreign_commands`), or whose repository is not its own (`foreign_repository`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from healer.errors import UsageError

SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
        # a submodule is a repository of its own, with a configuration nobody read
        "-c", "diff.ignoreSubmodules=all", "-c", "submodule.recurse=false")
# keys of the folder's own configuration that make git run a command of its choosing, or
# that read more configuration only under a condition healer's own work can change (its
# branch switches on an `onbranch:` include; a copy elsewhere, a `gitdir:` one)
DRIVERS = (r"^(filter|merge)\..+\.(clean|smudge|process|driver)$"
           r"|^diff\..+\.(command|textconv)$|^diff\.external$|^includeif\..+\.path$")


def git(root: Path, *args: str, text: bool = True) -> subprocess.CompletedProcess:
    """`git ARGS` in `root`, its hooks and fsmonitor off; never raises on a failure."""
    return subprocess.run(["git", *SAFE, *args], cwd=root, capture_output=True, text=text,
                          check=False)


def foreign_commands(root: Path) -> list[str]:
    """The keys of the repository's own configuration (and the files it includes) that name
    a command git would run on healer's add, checkout or diff."""
    result = git(root, "config", "--local", "--includes", "-z", "--get-regexp", DRIVERS)
    if result.returncode not in (0, 1):  # 1: no such key
        raise UsageError(f"git cannot read the configuration of {root}: "
                         f"{result.stderr.strip()[:200]}")
    return [entry.split("\n", 1)[0] for entry in result.stdout.split("\0") if entry]


def foreign_repository(root: Path) -> str | None:
    """Why the repository `root/.git` is not `root`'s own, or None: a link, or a `.git` file
    that is neither a linked work tree's nor a submodule's of this folder (either can lead
    to another repository, whose branch and index healer would change), or a work tree set
    elsewhere (`core.worktree`: healer would commit files outside)."""
    dot_git = root / ".git"
    if dot_git.is_symlink():
        return ".git is a symbolic link"
    if dot_git.is_file() and not _points_back(root, dot_git):
        return ".git names a repository elsewhere that is not this folder's"
    top = git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return f"git cannot read it: {top.stderr.strip()[:200]}"
    if Path(top.stdout.strip()).resolve() != root.resolve():
        return f"its work tree is {top.stdout.strip()}, not the folder"
    return None


def _points_back(root: Path, dot_git: Path) -> bool:
    """Whether the repository a `.git` file names has this folder as its work tree: a linked
    work tree (`git worktree add`), whose `gitdir` file names this `.git`, or a submodule,
    whose `core.worktree` is this folder."""
    text = dot_git.read_text(errors="replace").strip()
    if not text.startswith("gitdir:"):
        return False
    gitdir = (root / text.removeprefix("gitdir:").strip()).resolve()
    back = gitdir / "gitdir"
    if back.is_file() and Path(back.read_text(errors="replace").strip()).resolve() == \
            dot_git.resolve():
        return True
    tree = git(root, "config", "--file", str(gitdir / "config"), "core.worktree").stdout.strip()
    return bool(tree) and (gitdir / tree).resolve() == root.resolve()
