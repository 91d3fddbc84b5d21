"""One candidate per round: a chain of strategies, so that a small model that repeats itself
still makes progress.

- `repair`: the debugger sees the codebase and the facts of the failures and sends edits;
  when none of its answers changes a file, the round goes on as `regenerate` (a round is not
  checked for nothing).
- `regenerate`: when the last round changed nothing or the same failures came back, the
  implicated files are written anew, with the failures in view but not their failing version.
- `narrow`: after a regeneration that did not help, repair again with hotter sampling and
  only the first failure as evidence.

A round that did worse than the best so far is not built on: the next one starts from the
best round's code (the loop puts it back), as `narrow`, since the same repair of the same
code would likely bring the same answer back; after a `narrow` that did worse, `regenerate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from healer.models import Failure, Plan, Round, Spec
from healer.pipeline.debug import Repair, change, repair
from healer.pipeline.failures import implicated_files
from healer.pipeline.policy import EditPolicy
from healer.pipeline.regenerate import regenerate_file
from healer.state import load_file_list

if TYPE_CHECKING:
    from healer.llm.client import LLMClient
    from healer.workspace import Workspace

log = logging.getLogger(__name__)
HOT = 0.8


def next_in_chain(rounds: list[Round], *, from_best: bool = False) -> str:
    """The strategy of the next round, from what the last ones did; `from_best`: the last
    round did worse than the best, whose code the next round starts from."""
    checked = [r for r in rounds if r.checks]
    last = rounds[-1]
    if from_best:
        return "regenerate" if last.strategy == "narrow" else "narrow"
    stuck = last.index > 0 and not last.files_changed and last.strategy != "recheck"
    if len(checked) >= 2:
        stuck = stuck or _signature(checked[-1]) == _signature(checked[-2])
    if not stuck:
        return "repair"
    return "narrow" if last.strategy == "regenerate" else "regenerate"


def main_files(ws: Workspace, known: set[str]) -> list[str]:
    """The file to write anew when no failure points at one: the first planned non-test file."""
    planned = load_file_list(ws)
    paths = planned.paths if planned else sorted(known)
    return [p for p in paths if p in known and "test" not in p.lower()][:1]


@dataclass
class Chain:
    """A round's strategy applied to the build's own folder."""

    llm: LLMClient
    spec: Spec
    ws: Workspace
    plan: Plan
    policy: EditPolicy
    budget_tokens: int
    edit_format: str

    @property
    def protected(self) -> list[str]:
        return list(self.policy.protected)

    def run(self, strategy: str, failures: list[Failure]) -> tuple[str, list[str]]:
        """(diagnosis, files changed)."""
        if strategy == "regenerate":
            return self._regenerate(failures)
        hot = strategy == "narrow"
        result = repair(
            self.llm, self.ws.root, self.spec, self.plan, failures[:1] if hot else failures,
            protected=self.protected, budget_tokens=self.budget_tokens,
            temperature=HOT if hot else None, edit_format=self.edit_format, policy=self.policy,
        )
        diagnosis, changed = _said(result)
        if changed:
            return diagnosis, changed
        # no answer of the turn changed a file: rather than a round checked for nothing, the
        # failing file sampled afresh (what the next round would do anyway)
        fresh, changed = self._regenerate(failures)
        return f"{diagnosis}; then {fresh}", changed

    def change(self, request: str, failures: list[Failure], users_files: list[str],
               ) -> tuple[str, list[str]]:
        """A requested change (the user's words, or a diff of the spec): (diagnosis, files
        changed)."""
        result = change(self.llm, self.ws.root, self.spec, self.plan, request, failures,
                        users_files=users_files, protected=self.protected,
                        budget_tokens=self.budget_tokens, edit_format=self.edit_format,
                        policy=self.policy)
        return _said(result)

    def _regenerate(self, failures: list[Failure]) -> tuple[str, list[str]]:
        files = self.ws.text_files()
        known = set(files) - set(self.protected)
        targets = implicated_files(failures, known)[:2] or main_files(self.ws, known)
        changed = []
        for path in targets:
            new = regenerate_file(self.llm, self.ws.root, self.spec, self.plan, path, failures,
                                  protected=self.protected, budget_tokens=self.budget_tokens,
                                  temperature=HOT)
            refusal = self.policy.refusal(path, files.get(path), new.content)
            if refusal:
                log.warning("regenerated %s not written: %s", path, refusal)
                continue
            if new.content != files.get(path) and self.ws.write([new], keep=self.spec.keep):
                changed.append(path)
        return f"regenerated {', '.join(targets)} with the failures in view", changed


def _signature(rnd: Round) -> frozenset[str]:
    return frozenset(f.signature for f in rnd.failures) | frozenset(rnd.failing)


def _said(result: Repair) -> tuple[str, list[str]]:
    """(diagnosis, files changed) of an answer, saying when its edits could not be applied."""
    diagnosis = result.diagnosis or "(no diagnosis)"
    if result.error:
        diagnosis += f" [edits not applied: {result.error[:300]}]"
    return diagnosis, result.changed
