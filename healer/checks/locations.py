"""Find the project file and line a log points at, with sandbox paths mapped back."""

from __future__ import annotations

import re

from healer.sandbox.project import WORK

_PY_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
_PATH_LINE = re.compile(r"(?:^|[\s(\"'])((?:\.{0,2}/)?[\w./-]+\.(?:py|js|mjs|cjs|ts|json|html|css)):(\d+)")


def project_path(raw: str) -> str | None:
    """`raw` relative to the project root, or None when it lies outside the project."""
    path = raw.strip()
    if path.startswith(WORK + "/"):
        path = path[len(WORK) + 1 :]
    elif path.startswith("/"):
        return None
    while path.startswith("./"):
        path = path[2:]
    if not path or path.startswith(("../", "<")) or "site-packages" in path:
        return None
    return path


def python_frames(text: str) -> list[tuple[str, int]]:
    """Every traceback frame inside the project, outermost first."""
    frames = []
    for match in _PY_FRAME.finditer(text):
        path = project_path(match.group(1))
        if path:
            frames.append((path, int(match.group(2))))
    return frames


def path_lines(text: str) -> list[tuple[str, int]]:
    """Every `path:line` reference inside the project, in order."""
    found = []
    for match in _PATH_LINE.finditer(text):
        path = project_path(match.group(1))
        if path:
            found.append((path, int(match.group(2))))
    return found


def locate(text: str) -> tuple[str | None, int | None]:
    """The innermost project frame of a Python traceback, else the last path:line mentioned."""
    candidates = python_frames(text) or path_lines(text)
    if not candidates:
        return None, None
    return candidates[-1]
