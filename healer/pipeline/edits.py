"""Applying edits: all-or-nothing (every new content is computed in memory first, and nothing is
written unless every edit applies), paths confined to the project, protected files refused;
an undefined name the edited code certainly means is fixed (name_fixes).
Parsing is edit_parser's, finding a SEARCH section in a file edit_match's.
"""

from __future__ import annotations

import logging
import os
import posixpath
import tempfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import Field

from healer.errors import EditError, PathEscapeError
from healer.models import Edit, Value
from healer.paths import confined, relative_path
from healer.pipeline.codebase import SKIPPED_DIRS
from healer.pipeline.edit_match import NoMatch, place_fragment, replace_once
from healer.pipeline.edit_parser import PLACEHOLDER_PREFIX
from healer.pipeline.name_fixes import fix_names, modules_in
from healer.pipeline.policy import PROTECTED_REASON, EditPolicy
from healer.secrets import is_secret_like

log = logging.getLogger(__name__)


class ApplyResult(Value):
    """Which files an application of edits rewrote, and which it left as they were only
    because the name fixes spelled the names the edits changed back (`set_back`)."""

    changed: list[str]
    set_back: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class EditProblem:
    index: int  # 1-based position of the edit in the list given
    path: str
    reason: str

    def describe(self) -> str:
        return f"edit {self.index} ({self.path}): {self.reason}"


class EditsNotApplied(EditError):
    """Some edits did not apply, so none were written; `problems` says which and why."""

    def __init__(self, problems: list[EditProblem], total: int) -> None:
        lines = [f"{len(problems)} of {total} edits could not be applied; no file was changed:"]
        lines += [f"- {p.describe()}" for p in problems]
        super().__init__("\n".join(lines))
        self.problems = problems


def apply_edits(root: Path, edits: list[Edit], *, protected: Collection[str] = (),
                policy: EditPolicy | None = None) -> ApplyResult:
    """Apply every edit or none: raise EditsNotApplied (an EditError) naming each failure.

    `policy` says what edits may not do (see EditPolicy); `protected` alone is a policy that
    only keeps those paths (or globs) unchanged.
    """
    if policy is None:
        policy = EditPolicy(protected=tuple(_normalised(p) for p in protected))
    state = _Workspace(root, policy)
    problems: list[EditProblem] = []
    for index, edit in enumerate(edits, 1):
        try:
            state.apply(edit)
        except (NoMatch, PathEscapeError) as exc:
            problems.append(EditProblem(index, edit.path, str(exc)))
    if problems:
        raise EditsNotApplied(problems, len(edits))
    state.fix_undefined_names()
    return state.write()


class _Workspace:
    """The files edits touch, held in memory until every edit has applied."""

    def __init__(self, root: Path, policy: EditPolicy) -> None:
        self.root = root
        self.policy = policy
        self.original: dict[str, str | None] = {}
        self.current: dict[str, str | None] = {}
        self.crlf: dict[str, bool] = {}
        self.listing: list[str] | None = None
        self.set_back: list[str] = []

    def apply(self, edit: Edit) -> None:
        rel = self._resolve(relative_path(edit.path), whole_file=edit.search is None)
        if is_secret_like(rel):  # its lines would reach the model in a retry's hints
            raise NoMatch(f"`{rel}` looks like a file of secrets: healer never reads or edits "
                          "those for a model")
        if self.policy.is_protected(rel):
            raise NoMatch(PROTECTED_REASON)
        content = self._load(rel)
        if edit.search is None:
            new = edit.replace
        elif content is None:
            raise NoMatch(self._missing(rel))
        else:
            new = replace_once(content, edit.search, edit.replace)
        refusal = self.policy.refusal(rel, self.original[rel], new)
        if refusal and edit.search is None and content is not None:
            new = self._placed(content, edit.replace, refusal)
            refusal = self.policy.refusal(rel, self.original[rel], new)
        if refusal:
            raise NoMatch(refusal)
        self.current[rel] = new

    @staticmethod
    def _placed(content: str, fragment: str, refusal: str) -> str:
        """A whole file of one line refused for cutting the file short: the file with the
        line it rewrites replaced (place_fragment), else the refusal."""
        try:
            return place_fragment(content, fragment)
        except NoMatch:
            raise NoMatch(refusal) from None

    def fix_undefined_names(self) -> None:
        """Fix in each Python file the edits changed the undefined names they certainly mean."""
        local = modules_in(self.root)
        for rel, content in self.current.items():
            if content is not None and content != self.original[rel]:
                self.current[rel] = fix_names(rel, content, local, before=self.original[rel])
                if self.current[rel] == self.original[rel]:
                    self.set_back.append(rel)

    def _resolve(self, rel: str, *, whole_file: bool) -> str:
        """The project file a model meant when the path it gave does not exist.

        A Python file named with hyphens, which nothing can import, is the module spelled
        with underscores when that exists. The prompt's own example prefix ("path/to/") is
        dropped. An edit that quotes existing lines may also name its file by a longer or
        shorter path ("src/app.py" for "app.py", or the reverse) when exactly one existing
        file fits.
        """
        if self._exists(rel):
            return rel
        module = _importable_spelling(rel)
        if module and self._exists(module):
            log.info("edit for %s applied to the module %s", rel, module)
            return module
        if rel.startswith(PLACEHOLDER_PREFIX) and rel != PLACEHOLDER_PREFIX:
            stripped = rel[len(PLACEHOLDER_PREFIX) :]
            if whole_file or self._exists(stripped):
                return stripped
        if whole_file:
            return rel
        fits = [f for f in self._files() if rel.endswith("/" + f) or f.endswith("/" + rel)]
        if len(fits) == 1:
            log.info("edit for missing %s applied to %s", rel, fits[0])
            return fits[0]
        return rel

    def _missing(self, rel: str) -> str:
        name = rel.rsplit("/", 1)[-1]
        alike = [f for f in self._files() if f.rsplit("/", 1)[-1] == name]
        known = f" Files with that name: {', '.join(alike[:5])}." if alike else ""
        return (
            "file does not exist; to create it, leave the SEARCH section empty and put the "
            f"whole file in the REPLACE section.{known}"
        )

    def _exists(self, rel: str) -> bool:
        if rel in self.current:
            return self.current[rel] is not None
        return confined(self.root, rel).is_file()

    def _files(self) -> list[str]:
        if self.listing is None:
            self.listing = sorted(
                set(_project_files(self.root))
                | {p for p, text in self.current.items() if text is not None}
            )
        return self.listing

    def _load(self, rel: str) -> str | None:
        if rel in self.current:
            return self.current[rel]
        target = confined(self.root, rel)
        content: str | None = None
        if target.is_dir():
            raise NoMatch("is a directory, not a file")
        for parent in PurePosixPath(rel).parents[:-1]:  # a folder on the way that is a file
            if (self.root / parent).is_file() or self.current.get(parent.as_posix()):
                raise NoMatch(f"`{parent}` is a file, so nothing can be created inside it")
        if any(other.startswith(rel + "/") for other, text in self.current.items() if text):
            raise NoMatch("another edit of this answer makes it a folder")
        if target.is_file():
            try:
                raw = target.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise NoMatch("not a UTF-8 text file; it cannot be edited") from None
            self.crlf[rel] = "\r\n" in raw
            content = raw.replace("\r\n", "\n")
        self.original[rel] = self.current[rel] = content
        return content

    def write(self) -> ApplyResult:
        """Write every changed file, or (a write failing: the disk full, say) none of them."""
        changed = []
        try:
            for rel, content in self.current.items():
                if content is None or content == self.original[rel]:
                    continue
                _write_file(confined(self.root, rel), content, crlf=self.crlf.get(rel, False))
                changed.append(rel)
        except OSError as exc:
            for rel in changed:  # put back what was written before the failure
                original = self.original[rel]
                target = self.root / rel
                if original is None:
                    target.unlink(missing_ok=True)
                else:
                    _write_file(target, original, crlf=self.crlf.get(rel, False))
            raise EditError(f"the edits could not be written ({exc}); no file was changed",
                            hint="free some disk space, or check the folder's permissions"
                            ) from exc
        log.info("edits applied: %d of %d files changed", len(changed), len(self.current))
        return ApplyResult(changed=changed, set_back=self.set_back)


def _importable_spelling(rel: str) -> str | None:
    """`pkg/word_list.py` for `pkg/word-list.py`; None for a path that is no such slip."""
    folder, _, name = rel.rpartition("/")
    if not name.endswith(".py") or "-" not in name:
        return None
    return posixpath.join(folder, name.replace("-", "_"))


def _project_files(root: Path) -> Iterator[str]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in names:
            yield Path(folder, name).relative_to(root).as_posix()


def _normalised(pattern: str) -> str:
    try:
        return relative_path(pattern)
    except PathEscapeError:
        return pattern


def _write_file(target: Path, content: str, *, crlf: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    data = content.replace("\n", "\r\n") if crlf else content
    # a fresh name of its own (O_EXCL: never a link someone left there), short enough
    handle, name = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".healer-tmp",
                                    dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode("utf-8"))
        os.chmod(temporary, target.stat().st_mode & 0o7777 if target.exists() else 0o644)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise

