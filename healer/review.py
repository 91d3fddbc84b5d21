"""`--ask`: a round's edits are shown as a diff before they are kept; the user accepts them,
rejects them, or types guidance (which rejects them and goes into the next round's prompt)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from healer.models import Failure

if TYPE_CHECKING:
    from healer.workspace import Workspace


@dataclass(frozen=True)
class Verdict:
    accept: bool
    guidance: str = ""


Reviewer = Callable[[str, str], Verdict]  # (what the round did, its diff) -> verdict


def ask_in_terminal(title: str, diff: str) -> Verdict:
    """Show the diff on the terminal and read the answer."""
    import click
    from rich.syntax import Syntax

    from healer.ui import console

    console.rule(title[:200])
    console.print(Syntax(diff or "(no change)\n", "diff", word_wrap=True))
    answer = click.prompt("keep these edits? [a]ccept, [r]eject, or type guidance for the "
                          "next round", default="a", show_default=False, err=True).strip()
    if answer.lower() in ("a", "accept", "y", "yes"):
        return Verdict(accept=True)
    if answer.lower() in ("r", "reject", "n", "no"):
        return Verdict(accept=False)
    return Verdict(accept=False, guidance=answer)


def review_round(review: Reviewer, ws: Workspace, title: str, diagnosis: str,
                 changed: list[str]) -> tuple[str, list[str], list[Failure]]:
    """The user's verdict on a round's edits: (diagnosis, files kept, guidance for the next
    round). Rejected edits are put back; typed guidance comes as a failure record, placed
    before the checks' failures in the next prompt."""
    if not changed:
        return diagnosis, changed, []
    verdict = review(f"{title}: {diagnosis}", ws.pending_diff(changed))
    if verdict.accept:
        return diagnosis, changed, []
    ws.discard(changed)
    if not verdict.guidance:
        return f"{diagnosis} [rejected by the user]", [], []
    said = Failure(check="guidance", message=f"The user says: {verdict.guidance}")
    return f"{diagnosis} [rejected by the user: {verdict.guidance[:200]}]", [], [said]
