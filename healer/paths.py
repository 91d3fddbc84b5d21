"""Confine paths that come from a model or a spec to one folder."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path, PurePosixPath

from healer.errors import PathEscapeError

TOOL_FOLDERS = ("node_modules", ".venv", "__pycache__")  # installed, never written by a model
MAX_NAME_BYTES = 200  # a file name's longest (the system's limit is 255, with room to spare)


def relative_path(raw: str) -> str:
    """Normalise a model-given path to a clean relative POSIX path, or refuse it."""
    text = raw.strip().strip("`'\"").replace("\\", "/")
    if not text:
        raise PathEscapeError("empty file path")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise PathEscapeError(f"absolute path not allowed: {raw!r}")
    parts = [p for p in PurePosixPath(text).parts if p not in ("", ".")]
    if not parts or ".." in parts:
        raise PathEscapeError(f"path leaves the output folder: {raw!r}")
    folded = [p.casefold() for p in parts]  # `.GIT` is `.git` where names ignore case (macOS)
    if folded[0] in (".git", ".healer") or ".git" in folded:
        raise PathEscapeError(f"path inside healer's own folders: {raw!r}")
    if any(p in TOOL_FOLDERS for p in folded):
        raise PathEscapeError(f"path inside a folder of installed tools: {raw!r}")
    if any("\0" in p or "\n" in p or len(p.encode()) > MAX_NAME_BYTES for p in parts):
        raise PathEscapeError(f"not a file name healer writes: {raw[:80]!r}")
    return "/".join(parts)


def matches(rel: str, globs: tuple[str, ...] | list[str]) -> bool:
    """Whether `rel` is one of `globs` (paths or glob patterns) in any case: where names
    ignore case (macOS), `Tests/Test_App.py` is `tests/test_app.py`."""
    folded = rel.casefold()
    return any(folded == g.casefold() or fnmatch.fnmatchcase(folded, g.casefold()) for g in globs)


def confined(root: Path, raw: str) -> Path:
    """`root / raw`, guaranteed to stay inside `root` and to go through no symbolic link on
    the way (a link inside the project may lead to `.git/`, to a protected test, or out)."""
    rel = relative_path(raw)
    base = root.resolve()
    target = base / rel
    step = base
    for part in PurePosixPath(rel).parts:
        step = step / part
        if step.is_symlink():
            raise PathEscapeError(f"path goes through a symlink in the project: {raw!r} "
                                  f"({step.relative_to(base).as_posix()} is a link)")
    resolved = Path(os.path.realpath(target))
    if resolved != base and base not in resolved.parents:
        raise PathEscapeError(f"path escapes {root}: {raw!r}")
    return target
