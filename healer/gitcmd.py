"""git as healer runs it, in folders it did not create: nothing of the folder runs on this
machine. A repository's own configuration can name commands that git runs by itself: hooks
(on every commit, checkout, merge and ref update), an fsmonitor (on every status), and
filter and diff drivers (on add, checkout and diff). healer's commands switch off the first
two, never ask for the last, and refuse a folder whose configuration sets a filter or
merge driver (`foreign_commands`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
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
