"""Where a round's search stands, so that an interrupted build continues it: the candidates
made and checked so far are kept in `.healer/search.json` as each one ends, and a resumed
build that runs the same search (same round, same strategies, the same code to start from)
makes only the candidates that are left (those it made are checked again). The file goes
when the search ends."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from pydantic import Field, ValidationError

from healer.models import Candidate, Value
from healer.workspace import is_commit_id

log = logging.getLogger(__name__)
NAME = "search.json"


class Done(Value):
    """One candidate's end: what it was and what it changed."""

    candidate: Candidate
    paths: list[str] = Field(default_factory=list)
    diagnosis: str = ""


class Journal(Value):
    round: int
    base: str  # the commit the candidates are made from
    strategies: list[str]
    done: dict[int, Done] = Field(default_factory=dict)


def read_journal(path: Path) -> Journal | None:
    """The journal at `path`; None when there is none or it cannot be read."""
    try:
        return Journal.model_validate_json(path.read_text()) if path.is_file() else None
    except (OSError, ValidationError) as exc:
        log.warning("ignoring an unreadable search journal %s: %s", path, exc)
        return None


def unfinished_search(state: Path, index: int, strategies: list[str]) -> str | None:
    """The commit the candidates of round `index` were made from, when its search (of these
    `strategies`) was cut short and its journal is in the build's state folder `state`; else
    None, and a journal of another search there is stale and goes."""
    journal = read_journal(state / NAME)
    if journal is not None and journal.round == index and journal.strategies == strategies:
        return journal.base
    (state / NAME).unlink(missing_ok=True)
    return None


def _fits(number: int, done: Done, journal: Journal) -> bool:
    """Whether the journal's entry `number` can stand for that candidate of this search."""
    c = done.candidate
    return (1 <= number <= len(journal.strategies) and c.number == number
            and c.branch == f"healer/r{journal.round}-c{number}"
            and [*c.tried, c.strategy][0] == journal.strategies[number - 1]
            and c.status in ("checked", "duplicate") and is_commit_id(c.commit))


class Keeper:
    """The journal of one search, written as each candidate ends."""

    def __init__(self, path: Path, journal: Journal) -> None:
        self.path, self.journal = path, journal
        self._lock = threading.Lock()

    @classmethod
    def resume(cls, path: Path, journal: Journal, same_code: Callable[[str], bool]) -> Keeper:
        """The journal to continue: the one on disk when it is this search's (`same_code`:
        whether its base holds the same project files as this one's), else a new one."""
        found = read_journal(path)
        if (found is not None and found.round == journal.round
                and found.strategies == journal.strategies and same_code(found.base)):
            # what a candidate passed is never taken on the journal's word (the search
            # checks each journaled candidate's commit again)
            # (one whose commit is no commit id, HEAD say, could not be: it is made again)
            # (nor its numbering: each entry is the candidate of its own slot, or nothing)
            journal.done = {n: d for n, d in found.done.items() if _fits(n, d, journal)}
        return cls(path, journal)

    def add(self, done: Done) -> None:
        with self._lock:
            self.journal.done[done.candidate.number] = done
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(self.journal.model_dump_json())
            tmp.replace(self.path)

    def close(self) -> None:
        self.path.unlink(missing_ok=True)
