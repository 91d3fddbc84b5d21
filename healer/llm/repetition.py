"""Telling an answer that loops from one that is long.

Small models sometimes fall into a loop and write the same few lines again until `max_tokens`
(with the bundled model, minutes of a build). A loop is exact: the same text, again and again,
at the end of the answer. `loop_start` finds it while the answer streams in, so the request can
be stopped and the answer kept up to the first copy.

Legitimate code repeats too (a table of similar rows, a run of blank lines), but rarely the
same block many times in a row with nothing changing, so a loop counts only when the repeated
tail is long (`min_chars`) and holds many copies (`min_copies`).
"""

from __future__ import annotations

MIN_CHARS = 1200  # the looping tail must be at least this long ...
MIN_COPIES = 6  # ... and hold at least this many copies of one block (of up to 200 characters)


def loop_start(text: str, *, min_chars: int = MIN_CHARS, min_copies: int = MIN_COPIES) -> int | None:
    """Where the looping tail of `text` begins after its first copy, or None when it does not
    end in a loop. `text[:loop_start(text)]` keeps everything up to and including one copy."""
    if len(text) < min_chars:
        return None
    tail = text[-min_chars:]
    for period in range(1, min_chars // min_copies + 1):
        if tail[period:] == tail[:-period]:
            return _first_copy_end(text, period)
    return None


def _first_copy_end(text: str, period: int) -> int:
    """The end of the first copy of the block that `text` repeats with `period` at its end,
    moved to the end of its line when the block holds one."""
    start = len(text) - period
    while start > 0 and text[start - 1] == text[start - 1 + period]:
        start -= 1
    end = start + period
    newline = text.find("\n", end - 1, end - 1 + period)  # end the copy where a line ends
    return newline + 1 if newline != -1 else end


class LoopGuard:
    """Looks for a loop at the end of a growing answer, held as a list of pieces, every `every`
    characters; it reads only the tail, so a long answer costs no more per check."""

    def __init__(self, every: int = 256, min_chars: int = MIN_CHARS) -> None:
        self.every = every
        self.min_chars = min_chars
        self._checked_at = 0

    def check(self, pieces: list[str], size: int) -> int | None:
        """Where the loop of `"".join(pieces)` (of `size` characters) starts, or None."""
        if size - self._checked_at < self.every:
            return None
        self._checked_at = size
        tail, count = [], 0
        for piece in reversed(pieces):
            tail.append(piece)
            count += len(piece)
            if count >= self.min_chars:
                break
        if loop_start("".join(reversed(tail))[-self.min_chars:], min_chars=self.min_chars) is None:
            return None
        return loop_start("".join(pieces), min_chars=self.min_chars)
