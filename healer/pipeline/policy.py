"""What a model's edit may not do: touch the acceptance tests or the files the spec keeps,
change test infrastructure the spec does not make the project's own, or empty a file (or
shrink it to a few lines) that the spec does not ask to be emptied. A refusal goes back to
the model with its reason."""

from __future__ import annotations

import re
from dataclasses import dataclass

from healer.checks.acceptance.infra import infra_change, is_infra_file
from healer.models import Spec
from healer.paths import matches
from healer.spec import acceptance_files, named_files

PROTECTED_REASON = "protected acceptance test; change the code, not the test"
KEEP_REASON = "the spec keeps `{rel}` as it is (its Keep section); change other files"
SHRINK_MIN_LINES = 8  # a file this long (non-blank lines) may not shrink below...
SHRINK_KEEP_LINES = 5  # ...this many lines, and
SHRINK_KEEP_SHARE = 0.25  # this share of its lines, unless the spec asks for it
_ASKS_TO_EMPTY = re.compile(r"\b(empty|emptied|delete|deleted|remove|removed|blank)\b", re.IGNORECASE)


@dataclass(frozen=True)
class EditPolicy:
    protected: tuple[str, ...] = ()  # paths or globs never written (the acceptance tests)
    project_infra: frozenset[str] = frozenset()  # test infrastructure the spec names
    may_shrink: frozenset[str] = frozenset()  # files the spec asks to empty or cut down
    keep: tuple[str, ...] = ()  # globs of files the spec keeps as they are, once they exist

    @classmethod
    def for_spec(cls, spec: Spec) -> EditPolicy:
        named = named_files(spec)
        lines = [line for line in spec.text.splitlines() if _ASKS_TO_EMPTY.search(line)]
        shrink = {p for p in _mentioned_paths(spec.text) if any(p in line for line in lines)}
        return cls(protected=tuple(acceptance_files(spec)),
                   project_infra=frozenset(p for p in named if is_infra_file(p)),
                   may_shrink=frozenset(shrink), keep=tuple(spec.keep))

    def is_protected(self, rel: str) -> bool:
        """Whether `rel` is an acceptance test, in any case."""
        return matches(rel, self.protected)

    def may_create(self, rel: str) -> bool:
        """Whether a generated file may exist at `rel` (the file list asks for it)."""
        return not self.is_protected(rel) and (rel in self.project_infra
                                               or not is_infra_file(rel))

    def refusal(self, rel: str, old: str | None, new: str | None) -> str | None:
        """Why writing `new` over `old` at `rel` is refused, or None."""
        if self.is_protected(rel):
            return PROTECTED_REASON
        if old is not None and matches(rel, self.keep):
            return KEEP_REASON.format(rel=rel)
        if rel not in self.project_infra:
            reason = infra_change(rel, old, new)
            if reason:
                return reason
        if old is None or new is None or rel in self.may_shrink:
            return None
        return _shrink_reason(rel, old, new)


def _non_blank(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def _shrink_reason(rel: str, old: str, new: str) -> str | None:
    before, after = _non_blank(old), _non_blank(new)
    if before and not after:
        return (f"the edit would leave `{rel}` empty; the spec does not ask for that. Send "
                "the lines to change, or the whole new file")
    if before >= SHRINK_MIN_LINES and after < SHRINK_KEEP_LINES and after < before * SHRINK_KEEP_SHARE:
        return (f"the edit would cut `{rel}` from {before} lines to {after}; the spec does not "
                "ask for that. Send the whole file with your change, or search/replace blocks")
    return None


def _mentioned_paths(text: str) -> set[str]:
    return set(re.findall(r"`([\w./-]+\.[A-Za-z0-9]{1,8})`", text))
