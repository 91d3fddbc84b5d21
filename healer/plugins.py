"""Where healer can be extended: one registry per kind of extension.

    healer.stacks        a language: how it is detected, its image, its install step, its checks
    healer.sandboxes     a sandbox backend: a factory that takes the settings
    healer.edit_formats  an edit format: the prompt that asks for it and the parser that reads it
    healer.checks        a project check beside the stacks' own (browser extensions, examples)

Each registry is filled from the Python entry points of its group, healer's own included
(they are declared in healer's pyproject.toml exactly as another package declares its own):

    [project.entry-points."healer.stacks"]
    rust = "healer_rust:STACK"

An entry point names the object itself (a `Stack`, an `EditFormat`, a `Check`, or a backend
factory). A name that is registered twice keeps its first, healer's own, unless the second
comes from `register()` with `replace=True` (a test, or a program embedding healer).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from healer.errors import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")
OWN_DISTRIBUTION = "spec-healer"


class Registry(Generic[T]):
    """Named extensions of one kind, loaded once from the entry point group `group`."""

    def __init__(self, group: str, kind: str) -> None:
        self.group, self.kind = group, kind
        self._items: dict[str, T] = {}
        self._loaded = False
        self._lock = threading.Lock()

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        self._load()
        with self._lock:
            if name in self._items and not replace:
                raise ConfigError(f"a {self.kind} named {name!r} is already registered")
            self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        self._load()
        with self._lock:
            self._items.pop(name, None)

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(f"no {self.kind} named {name!r}",
                              hint=f"known: {', '.join(self.names()) or 'none'}") from None

    def names(self) -> list[str]:
        self._load()
        return list(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load()
        return iter(list(self._items.items()))

    def values(self) -> list[T]:
        self._load()
        return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            found = sorted(entry_points(group=self.group),
                           key=lambda ep: ep.dist is None or ep.dist.name != OWN_DISTRIBUTION)
            if not found:
                raise ConfigError(f"no {self.kind} is registered (entry point group "
                                  f"{self.group!r} is empty)",
                                  hint="install healer as a package: pip install -e .")
            for ep in found:
                if ep.name in self._items:
                    log.warning("%s %r from %s is ignored: that name is taken", self.kind,
                                ep.name, ep.value)
                    continue
                try:
                    self._items[ep.name] = ep.load()
                except Exception as exc:  # noqa: BLE001 - a broken plugin must not take healer down
                    log.warning("cannot load %s %r (%s): %s", self.kind, ep.name, ep.value, exc)
            self._loaded = True
