"""The project's text source files, as a model may be shown them: healer's and tools' folders,
the .gitignore healer writes, lock files, binaries, secret-like files and files over 200 kB
left out; symlinks never followed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from healer.pipeline.outline import outline
from healer.secrets import is_secret_like

MAX_FILE_BYTES = 200 * 1024
SKIPPED_DIRS = {
    ".git",
    ".healer",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".cache",
}
# what a folder healer creates ignores; as long as it says only this, it is healer's file, of no
# use to a model (which would rewrite it as readily as the code)
DEFAULT_GITIGNORE = "__pycache__/\n*.pyc\nnode_modules/\n.pytest_cache/\n"
LOCK_FILES = {
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "poetry.lock",
    "Pipfile.lock",
    "Cargo.lock",
    "composer.lock",
    "uv.lock",
    "Gemfile.lock",
    "npm-shrinkwrap.json",
}


@dataclass
class SourceFile:
    path: str  # relative POSIX path
    text: str
    _outline: str | None = field(default=None, repr=False)

    @property
    def outline(self) -> str:
        if self._outline is None:
            self._outline = outline(self.path, self.text)
        return self._outline


def collect_files(root: Path) -> tuple[dict[str, SourceFile], list[str]]:
    """Text source files under `root` by relative path, and the files left out as non-source."""
    files: dict[str, SourceFile] = {}
    skipped: list[str] = []
    for path in _walk(root):
        rel = path.relative_to(root).as_posix()
        text = _read_source(path)
        if text is None:
            skipped.append(rel)
        else:
            files[rel] = SourceFile(rel, text)
    return files, skipped


def _walk(directory: Path) -> Iterable[Path]:
    for entry in sorted(directory.iterdir(), key=lambda p: p.name):
        if entry.is_symlink():
            continue
        if entry.is_dir():
            if entry.name not in SKIPPED_DIRS:
                yield from _walk(entry)
        elif entry.is_file():
            yield entry


def _read_source(path: Path) -> str | None:
    """The file's text, or None for lock files, binaries, files over the size limit and
    healer's own .gitignore."""
    if path.name in LOCK_FILES or path.suffix == ".lock" or is_secret_like(path.name):
        return None
    if path.stat().st_size > MAX_FILE_BYTES:
        return None
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None
    return None if path.name == ".gitignore" and text == DEFAULT_GITIGNORE else text


LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "jsx",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".json": "json",
    ".html": "html",
    ".css": "css",
    ".md": "markdown",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".sh": "bash",
    ".txt": "text",
    ".cfg": "ini",
    ".ini": "ini",
    ".sql": "sql",
}


def fence_language(path: str) -> str:
    """The Markdown fence language of a file ("" when there is none); a registered stack
    names its own languages' (healer.stacks)."""
    suffix = posixpath.splitext(path)[1].lower()
    if suffix in LANGUAGES:
        return LANGUAGES[suffix]
    from healer.stacks import all_stacks

    return next((stack.fence for stack in all_stacks() if suffix in stack.source_suffixes), "")
