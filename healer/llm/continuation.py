"""Continuing an answer cut off at the token limit: the conversation that makes the model go
on, and the join of the parts without what was repeated at the seam."""

from __future__ import annotations

import re

from healer.prompts import render

_REOPENED_FENCE = re.compile(r"\A\s*```[\w+.-]*[ \t]*\n")


def continuation_messages(
    messages: list[dict[str, str]], partial: str, *, prefill: bool = False
) -> list[dict[str, str]]:
    """The conversation that makes the model go on from `partial`.

    By default the partial answer is followed by a user message asking to continue. With
    `prefill`, the conversation ends with the partial answer itself, which llama.cpp's server
    continues seamlessly as the start of the assistant's reply.
    """
    cut = [*messages, {"role": "assistant", "content": partial}]
    return cut if prefill else [*cut, {"role": "user", "content": render("continue_answer")}]


def join_continuation(partial: str, more: str, *, min_overlap: int = 16) -> str:
    """`partial + more`, without what the model or server repeated at the seam.

    Handles a server that echoes the prefilled partial answer, a code fence opened again
    although the partial answer's fence is still open, and a few repeated characters.
    """
    if len(partial) >= min_overlap and more.startswith(partial):
        return more
    if partial.count("```") % 2 == 1:
        more = _REOPENED_FENCE.sub("", more, count=1)
    longest = min(len(partial), len(more), 400)
    for size in range(longest, min_overlap - 1, -1):
        if partial.endswith(more[:size]):
            return partial + more[size:]
    return partial + more
