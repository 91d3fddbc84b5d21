"""How long an answer that rewrites code can usefully be.

A repair or a rewrite sends back the files it changes, plus a few lines of diagnosis, so its
useful length follows from the code it rewrites. Small models sometimes ramble on past that
(notes, variants, the same function again with a twist) until `max_tokens`; the bundled model
writes about 12 tokens a second on two cores, so a 4,096-token ramble costs five minutes of a
build. Such answers are stopped at a few times the size of the code (never below a floor that
fits a whole module), and the stage uses what they hold: a repair the edits it finished; a
whole file stopped there is no file (`whole_file`). A new file has no size of its own to
go by: it may run to what a repair prompt can show whole (`new_file_limit`).
"""

from __future__ import annotations

from healer.errors import ModelOutputError
from healer.llm.accounting import estimate_tokens
from healer.models import Completion

GROWTH = 3  # the rewritten code may be this many times the size of today's (estimated) ...
ROOM = 600  # ... plus this, for the diagnosis, the fences and the file names
FLOOR = 2048  # a stub or an empty file may become a whole module (150 lines or more)


def rewrite_limit(*code: str) -> int:
    """The most tokens an answer rewriting `code` (the texts of the files it may change) is
    let run to."""
    return max(FLOOR, GROWTH * sum(estimate_tokens(text) for text in code) + ROOM)


def new_file_limit(context_budget: int) -> int:
    """The most tokens a new file is let run to: what a repair prompt can show whole (a file
    past that is seen only in outline by every later round), and never below the floor."""
    return max(FLOOR, context_budget)


def whole_file(answer: Completion, path: str) -> str:
    """The answer's text, when it is a whole file: one stopped at its limit is cut off."""
    if answer.finish_reason == "length":
        raise ModelOutputError(f"the answer for {path} ran past {GROWTH} times the size of the"
                               " file it replaces and was stopped there")
    return answer.text
