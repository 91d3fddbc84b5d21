"""The output folder: a git repository where every stage result and every round is a commit."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from healer.errors import HealerError, PathEscapeError, UsageError
from healer.gitcmd import foreign_commands, foreign_repository, git
from healer.models import FileList, GeneratedFile
from healer.paths import confined, matches
from healer.pipeline.codebase import DEFAULT_GITIGNORE
from healer.secrets import is_secret_like

log = logging.getLogger(__name__)

STATE_DIR = ".healer"
SCREENSHOTS = "screenshots"  # under STATE_DIR: where an extension's popup screenshots go
POPUP_SHOT = "popup.png"
FILE_LIST = "files.json"  # healer's file list of the project, in STATE_DIR
BRANCH = "healer/build"
ADOPTED = "adopted.json"  # in an adopted folder: the user's files that were there before
REPLACED = "replaced"  # the first version of every file of the user's that healer replaced
SKIP_DIRS = {".git", STATE_DIR, "node_modules", "__pycache__", ".venv", ".pytest_cache"}
MAX_TEXT_BYTES = 200_000
_GIT_LOCK = threading.Lock()  # candidates add worktrees and branches from several threads


class Workspace:
    """The output folder. One healer did not create is used only with `adopt=True` (the user's
    say-so): healer then works on its own branch, keeps the first version of every file it
    replaces in `.healer/replaced/`, and never commits the files that were there before it
    unless it wrote them, nor anything that looks like a secret."""

    def __init__(self, root: Path, *, adopt: bool = False, own_tree: bool = False) -> None:
        self.root = root.resolve()
        self.adopt = adopt
        self._vetted = own_tree  # a scratch tree healer made: its `.git` file is healer's own
        self._state_vetted = False  # whether `.healer` was found to hold only files and folders

    @property
    def state(self) -> Path:
        if not self._state_vetted:
            _vet_state(self.root / STATE_DIR)
            self._state_vetted = True
        return self.root / STATE_DIR

    @property
    def adopted(self) -> bool:
        return (self.state / ADOPTED).is_file()

    def init(self) -> None:
        """Create the folder and its git repository (idempotent)."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"output path exists and is not a folder: {self.root}")
        foreign = self.root.is_dir() and not self.state.is_dir() and any(self.root.iterdir())
        if foreign and not self.adopt:
            raise UsageError(
                f"{self.root} is not empty and healer did not create it",
                hint="pass --into-existing to build there: healer then works on its own branch "
                f"`{BRANCH}` and keeps a copy of every file it replaces in .healer/replaced/")
        if foreign:
            self._adopt()
        self.state.mkdir(parents=True, exist_ok=True)
        if not (self.root / ".git").exists():
            self._git("init", "-q")
            ignore = self.root / ".gitignore"
            if not os.path.lexists(ignore):  # a link, even a dangling one, is not written through
                ignore.write_text(DEFAULT_GITIGNORE)

    def _adopt(self) -> None:
        """Take a folder healer did not create: its own branch, a list of the user's files."""
        is_repo = (self.root / ".git").exists()
        if is_repo and self._git("status", "--porcelain", "--untracked-files=no").stdout.strip():
            raise UsageError(f"{self.root} has uncommitted changes",
                             hint="commit or stash them first; healer works on its own branch")
        existing = sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                          if p.is_file() and ".git" not in p.relative_to(self.root).parts)
        tracked = set(self._git("ls-files").stdout.splitlines()) if is_repo else set()
        self.state.mkdir(parents=True, exist_ok=True)
        if not is_repo:
            self._git("init", "-q")
        if self.head():
            self._git("checkout", "-q", "-B", BRANCH)
        else:
            self._git("checkout", "-q", "--orphan", BRANCH)
        exclude = self.root / ".git" / "info" / "exclude"
        if exclude.is_symlink() or exclude.parent.is_symlink():
            raise UsageError(f"{exclude} is a symbolic link: healer does not write through it",
                             hint="replace it with a plain file")
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a") as handle:
            handle.write(f"\n/{STATE_DIR}/{REPLACED}/\n")
        untracked = [p for p in existing if p not in tracked]
        (self.state / ADOPTED).write_text(json.dumps({"untracked": untracked}, indent=2) + "\n")

    def _planned(self) -> list[str]:
        """The files of healer's saved file list."""
        path = self.state / FILE_LIST
        try:
            paths = FileList.model_validate_json(path.read_text()).paths if path.is_file() else []
        except ValueError:  # pydantic's ValidationError included
            return []
        return [p for p in paths if not is_secret_like(p)]

    def _users_files(self) -> set[str]:
        """The files that were in the folder before healer (never committed by it)."""
        if not self.adopted:
            return set()
        try:
            saved = json.loads((self.state / ADOPTED).read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"{self.state / ADOPTED} cannot be read: {exc}",
                             hint="it lists the files that were there before healer; "
                                  "restore it from the folder's history") from exc
        untracked = saved.get("untracked") if isinstance(saved, dict) else None
        if not isinstance(untracked, list) or not all(isinstance(p, str) for p in untracked):
            raise UsageError(f"{self.state / ADOPTED} is not a list of the user's files",
                             hint="restore it from the folder's history")
        return set(untracked)

    def _release(self, rel: str) -> None:
        """A file of the user's that healer rewrote is healer's from now on (its first
        version is in .healer/replaced/)."""
        users = self._users_files()
        if rel in users:
            users.discard(rel)
            (self.state / ADOPTED).write_text(json.dumps({"untracked": sorted(users)}, indent=2)
                                              + "\n")

    def _keep_original(self, rel: str, target: Path) -> None:
        """The first version of a file of the user's that healer replaces."""
        backup = self.state / REPLACED / rel
        if self.adopted and target.is_file() and not backup.exists():
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, backup)

    # ------------------------------------------------------------------ files

    def write(self, files: list[GeneratedFile], *, keep: list[str] = ()) -> list[str]:
        """Write files (paths confined to the folder); existing files matching `keep` survive."""
        written = []
        for f in files:
            target = confined(self.root, f.path)
            if target.exists() and matches(f.path, keep):
                log.info("keeping %s (marked keep in the spec)", f.path)
                continue
            self._keep_original(f.path, target)
            self._release(f.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f.content, encoding="utf-8")
            written.append(f.path)
        return written

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
        """Commit everything healer may commit (even if nothing changed); the commit id.

        Files that look like secrets, and in an adopted folder the untracked files that were
        there before healer, stay out of every commit.
        """
        self._git("add", "-A")
        planned = [p for p in self._planned() if (self.root / p).is_file()]
        if planned:  # healer's own files, even where the user's .gitignore names them
            self._git("add", "-f", "--", *planned)
        staged = self._git("diff", "--cached", "--name-only", "-z").stdout.split("\0")
        keep_out = [p for p in staged if p and (is_secret_like(p) or p in self._users_files())]
        if keep_out:
            self._git("reset", "-q", "--", *keep_out)
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
        return bool(self.changed_files())

    def changed_files(self) -> list[str]:
        """Project files (not healer's own state) changed, added or removed since the last
        commit: by the user, when no round of healer's is under way."""
        status = self._git("status", "--porcelain", "-z", "--untracked-files=all", "--", ".",
                           f":(exclude){STATE_DIR}")
        fields = iter(status.stdout.split("\0"))
        found = set()
        for entry in fields:
            if len(entry) > 3:
                found.add(entry[3:])
                if entry[0] in "RC":  # a rename or copy: its source path is the next field
                    found.add(next(fields, ""))
        return sorted(found - {""})

    def pending_diff(self, paths: list[str]) -> str:
        """The unified diff of `paths` against the last commit, new files included."""
        parts = []
        for rel in paths:
            tracked = self._git("ls-files", "--error-unmatch", "--", rel, check=False)
            if tracked.returncode == 0:
                parts.append(self._git("diff", "--no-ext-diff", "--no-textconv", "HEAD", "--",
                                       rel).stdout)
            elif (self.root / rel).is_file():
                new = self._git("diff", "--no-ext-diff", "--no-textconv", "--no-index", "--",
                                "/dev/null", rel, check=False)
                parts.append(new.stdout)
        return "".join(parts)

    def discard(self, paths: list[str]) -> None:
        """Put `paths` back as the last commit has them (new files removed)."""
        for rel in paths:
            tracked = self._git("ls-files", "--error-unmatch", "--", rel, check=False)
            if tracked.returncode == 0:
                self._git("checkout", "-q", "HEAD", "--", rel)
            else:
                self._remove(rel)

    def _remove(self, rel: str) -> None:
        """Delete the project file `rel`, never through a linked folder (it may lead out)."""
        parent = PurePosixPath(rel).parent.as_posix()
        try:
            folder = self.root if parent == "." else confined(self.root, parent)
        except PathEscapeError:
            log.warning("not removing %s: its folder is a link out of %s", rel, self.root)
            return
        (folder / PurePosixPath(rel).name).unlink(missing_ok=True)

    def restore(self, commit: str) -> None:
        """Make the project files what they were at `commit`; healer's own state is untouched."""
        project_only = [".", f":(exclude){STATE_DIR}"]
        commit = _revision(commit)
        added = self._git("diff", "--name-only", "-z", "--diff-filter=A", commit, "HEAD", "--",
                          *project_only).stdout.split("\0")  # -z: names as they are (café.py)
        for rel in filter(None, added):
            self._remove(rel)
        self._git("checkout", "-q", commit, "--", *project_only)

    # ------------------------------------------------------------------ screenshots

    def keep_screenshot(self, checked: Path, name: str) -> None:
        """Keep the popup screenshot the checks of the checkout `checked` left, as `name`
        (a round's, a candidate's): the next check writes its own."""
        shot = checked / STATE_DIR / SCREENSHOTS / POPUP_SHOT
        if shot.is_file() and not shot.is_symlink():
            target = self.state / SCREENSHOTS / _shot_name(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(shot), target)

    def screenshot(self, name: str) -> str | None:
        """The kept screenshot of `name`, relative to the state folder; None if there is none."""
        rel = f"{SCREENSHOTS}/{_shot_name(name)}"
        return rel if (self.state / rel).is_file() else None

    # ------------------------------------------------------------------ candidates' branches

    @contextlib.contextmanager
    def scratch_tree(self, commit: str) -> Iterator[Path]:
        """A checkout of `commit` in a temporary folder (a git worktree), gone afterwards."""
        commit = _revision(commit)
        folder = Path(tempfile.mkdtemp(prefix="healer-candidate-")) / "tree"
        with _GIT_LOCK:
            self._git("worktree", "add", "-q", "--detach", str(folder), commit)
        try:
            yield folder
        finally:
            with _GIT_LOCK:
                self._git("worktree", "remove", "--force", str(folder), check=False)
                self._git("worktree", "prune", check=False)
            shutil.rmtree(folder.parent, ignore_errors=True)

    def commit_tree(self, tree: Path, branch: str, message: str) -> str:
        """Commit everything in the scratch tree `tree` on `branch` (made or moved there)."""
        worktree = Workspace(tree, own_tree=True)
        worktree._git("add", "-A")
        staged = worktree._git("diff", "--cached", "--name-only", "-z").stdout.split("\0")
        secret = [p for p in staged if p and is_secret_like(p)]
        if secret:
            worktree._git("reset", "-q", "--", *secret)
        worktree._git("commit", "-q", "--allow-empty", "--no-verify", "-m", message)
        commit = worktree.head() or ""
        with _GIT_LOCK:
            self._git("branch", "-f", branch, commit)
        return commit

    def same_project(self, a: str, b: str) -> bool:
        """Whether commits `a` and `b` hold the same project files (healer's state aside)."""
        if not (_is_revision(a) and _is_revision(b)):
            return False
        result = self._git("diff", "--quiet", a, b, "--", ".", f":(exclude){STATE_DIR}",
                           check=False)
        return result.returncode == 0

    def file_at(self, commit: str, path: str) -> str | None:
        """The text of `path` as commit `commit` holds it; None when it has no such file, or
        when `commit` is not a commit id (it may come from a report in the folder)."""
        if not re.fullmatch(COMMIT_ID, commit):
            return None
        result = self._git("show", f"{commit}:{path}", check=False)
        return result.stdout if result.returncode == 0 else None

    def is_ancestor(self, ancestor: str, commit: str) -> bool:
        """Whether `commit` descends from `ancestor` (or is it)."""
        if not (_is_revision(ancestor) and _is_revision(commit)):
            return False
        return self._git("merge-base", "--is-ancestor", ancestor, commit,
                         check=False).returncode == 0

    def advance_to(self, commit: str) -> None:
        """Move the current branch forward to `commit`, a descendant of its head."""
        self._git("merge", "-q", "--ff-only", _revision(commit))

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if not self._vetted and os.path.lexists(self.root / ".git"):
            self._vetted = True
            if why := foreign_repository(self.root):
                raise UsageError(f"the git repository in {self.root} is not the folder's own: "
                                 f"{why}", hint="point healer at the repository's own folder, "
                                 "or at a fresh one")
            if drivers := foreign_commands(self.root):
                raise UsageError(
                    f"the git configuration of {self.root} makes git run commands of its own "
                    f"({', '.join(drivers)}); healer does not run a folder's commands on this "
                    "machine",
                    hint="remove them from .git/config (git config --unset KEY), or use a "
                         "fresh folder; for git-lfs set up with `git lfs install --local`, "
                         "`git lfs uninstall --local` and install it for your user instead")
        result = git(self.root, "-c", "user.name=healer", "-c", "user.email=healer@localhost",
                     "-c", "commit.gpgsign=false", *args)
        if check and result.returncode != 0:
            raise HealerError(f"git {' '.join(args)} failed in {self.root}: {result.stderr.strip()}")
        return result


def _vet_state(state: Path) -> None:
    """healer's state folder holds only the files and folders healer wrote: a link (to a
    secret, say, read into a prompt; or to a file elsewhere, overwritten by the next report)
    or a FIFO there is refused."""
    if not os.path.lexists(state):
        return
    found = [state] if state.is_symlink() or not state.is_dir() else []
    for folder, dirs, files in os.walk(state) if not found else ():
        for name in dirs + files:
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                found.append(Path(folder, name))
    if found:
        rel = found[0].relative_to(state.parent)
        raise UsageError(f"{rel} in {state.parent} is a link or not a plain file: healer's "
                         f"state ({STATE_DIR}/) holds only the files healer wrote",
                         hint=f"delete {state} to build the folder anew")


def _shot_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) + ".png"


COMMIT_ID = r"[0-9a-f]{7,64}"


def is_commit_id(commit: str | None) -> bool:
    """Whether `commit` is a commit id as healer writes them (never HEAD, never an option)."""
    return commit is not None and re.fullmatch(COMMIT_ID, commit) is not None


def _is_revision(commit: str) -> bool:
    """A commit id or HEAD: what healer writes in its state, and all it passes to git as a
    revision (a folder's `.healer` files may name anything: `--output=FILE` is an option)."""
    return commit == "HEAD" or re.fullmatch(COMMIT_ID, commit) is not None


def _revision(commit: str) -> str:
    if not _is_revision(commit):
        raise UsageError(f"{commit[:80]!r} is not a commit id: the folder's .healer state"
                         " names one that healer did not write",
                         hint="delete .healer/report.json and .healer/search.json to build"
                              " the folder anew")
    return commit
