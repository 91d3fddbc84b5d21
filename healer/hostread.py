"""Reading a file of a folder healer does not trust, on this machine: never through a link
(it could lead to any file here, and what is read may reach a model), never a FIFO or a
device (a read would wait forever), and at most MAX_BYTES (a module of hundreds of megabytes
parsed on the host takes gigabytes)."""

from __future__ import annotations

from pathlib import Path

MAX_BYTES = 1_000_000


def read_source(path: Path) -> str:
    """The text of a file the caller has vetted, at most MAX_BYTES of it."""
    with path.open("rb") as handle:
        return handle.read(MAX_BYTES).decode("utf-8", errors="replace")


def project_text(path: Path) -> str | None:
    """The text of a project's file, or None when it is a link, not a regular file, or
    larger than MAX_BYTES."""
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_BYTES:
        return None
    return read_source(path)
