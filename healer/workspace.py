"""The output folder: a git repository where every stage result and every round is a commit."""

from __future__ import annotations

import fnmatch
import logging
import shutil
import subprocess
from pathlib import Path

from healer.errors import HealerError, UsageError
from healer.models import GeneratedFile
from healer.paths import confined

log = logging.getLogger(__name__)

STATE_DIR = ".healer"
SKIP_DIRS = {".git", STATE_DIR, "node_modules", "__pycache__", ".venv", ".pytest_cache"}
MAX_TEXT_BYTES = 200_000


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    def init(self) -> None:
        """Create the folder and its git repository (idempotent)."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"output path exists and is not a folder: {self.root}")
        self.state.mkdir(parents=True, exist_ok=True)
        if not (self.root / ".git").exists():
            self._git("init", "-q")
            ignore = self.root / ".gitignore"
            if not ignore.exists():
                ignore.write_text("__pycache__/\n*.pyc\nnode_modules/\n.pytest_cache/\n")

    # ------------------------------------------------------------------ files

    def write(self, files: list[GeneratedFile], *, keep: list[str] = ()) -> list[str]:
        """Write files (paths confined to the folder); existing files matching `keep` survive."""
        written = []
        for f in files:
            target = confined(self.root, f.path)
            if target.exists() and any(fnmatch.fnmatch(f.path, g) for g in keep):
                log.info("keeping %s (marked keep in the spec)", f.path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.content, encoding="utf-8")
            written.append(f.path)
        return written

    def read(self, path: str) -> str:
        return confined(self.root, path).read_text(encoding="utf-8")

    def text_files(self) -> dict[str, str]:
        """Every text file of the project (not healer's own state), by relative path."""
        files: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if path.is_symlink() or not path.is_file() or SKIP_DIRS.intersection(rel.parts):
                continue
            if path.stat().st_size > MAX_TEXT_BYTES:
                continue
            try:
                files[rel.as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
        return files

    def install(self, source: Path, rel: str) -> None:
        """Copy a user's file into the project at `rel` (used for acceptance tests)."""
        target = confined(self.root, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    # ------------------------------------------------------------------ git

    def commit(self, message: str) -> str:
        """Commit everything (even if nothing changed) and return the commit id."""
        self._git("add", "-A")
        self._git("commit", "-q", "--allow-empty", "--no-verify", "-m", message)
        return self.head()

    def commit_paths(self, paths: list[str], message: str) -> str | None:
        """Commit only `paths` (a folder healer does not own keeps the rest as it was)."""
        if not paths:
            return self.head()
        self._git("add", "--", *paths)
        self._git("commit", "-q", "--no-verify", "-m", message, "--", *paths)
        return self.head()

    def head(self) -> str | None:
        result = self._git("rev-parse", "HEAD", check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    def dirty(self) -> bool:
        """Whether project files (not healer's own state) changed since the last commit."""
        status = self._git("status", "--porcelain", "--", ".", f":(exclude){STATE_DIR}")
        return bool(status.stdout.strip())

    def restore(self, commit: str) -> None:
        """Make the project files what they were at `commit`; healer's own state is untouched."""
        project_only = [".", f":(exclude){STATE_DIR}"]
        added = self._git("diff", "--name-only", "--diff-filter=A", commit, "HEAD", "--",
                          *project_only).stdout.splitlines()
        for rel in added:
            (self.root / rel).unlink(missing_ok=True)
        self._git("checkout", "-q", commit, "--", *project_only)

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["git", "-c", "user.name=healer", "-c", "user.email=healer@localhost",
               "-c", "commit.gpgsign=false", *args]
        result = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise HealerError(f"git {' '.join(args)} failed in {self.root}: {result.stderr.strip()}")
        return result
