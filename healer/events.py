"""Progress events the pipeline emits; the CLI renders them, library users may ignore them."""

from __future__ import annotations

from typing import Protocol

from healer.models import Round


class Events(Protocol):
    def stage(self, name: str, detail: str = "") -> None: ...

    def file_done(self, path: str, done: int, total: int) -> None: ...

    def round_done(self, round: Round) -> None: ...

    def tokens(self, stage: str, count: int) -> None:
        """A model call of `stage` has written `count` tokens so far (called per token, from
        the threads that make the calls)."""
        ...


class NoEvents:
    def stage(self, name: str, detail: str = "") -> None:
        pass

    def file_done(self, path: str, done: int, total: int) -> None:
        pass

    def round_done(self, round: Round) -> None:
        pass

    def tokens(self, stage: str, count: int) -> None:
        pass


NO_EVENTS = NoEvents()
