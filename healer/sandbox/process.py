"""What the sandbox backends share: running a process group with a timeout, clipping output."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from typing import IO, Any

from healer.config import parse_memory
from healer.models import RunResult

OUTPUT_LIMIT = 1_000_000  # characters kept per stream (head and tail)


def clip(data: bytes | None) -> str:
    """Decoded output, cut in the middle when it is longer than OUTPUT_LIMIT."""
    text = (data or b"").decode("utf-8", errors="replace")
    if len(text) <= OUTPUT_LIMIT:
        return text
    head, tail = OUTPUT_LIMIT // 5, OUTPUT_LIMIT - OUTPUT_LIMIT // 5
    return f"{text[:head]}\n[... {len(text) - OUTPUT_LIMIT} characters cut ...]\n{text[-tail:]}"


def memory_bytes(limit: str) -> int:
    """'512m', '1g', '1048576' -> bytes."""
    return parse_memory(limit)


def _read_clipped(handle: IO[bytes]) -> str:
    """What a process wrote to `handle`, its head and tail only: memory stays bounded however
    much it printed."""
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    if size <= OUTPUT_LIMIT:
        return clip(handle.read())
    head = handle.read(OUTPUT_LIMIT // 5)
    handle.seek(size - (OUTPUT_LIMIT - OUTPUT_LIMIT // 5))
    tail = handle.read()
    text_head = head.decode("utf-8", errors="replace")
    return (f"{text_head}\n[... {size - OUTPUT_LIMIT} bytes cut ...]\n"
            + tail.decode("utf-8", errors="replace"))


def run_group(argv: list[str], *, timeout: float, **popen: Any) -> RunResult:
    """Run `argv` in its own process group; on timeout the whole group is killed.

    Output goes to temporary files (bounded by the caller's RLIMIT_FSIZE), never to healer's
    memory; only its head and tail are read back.
    """
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True, **popen)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        code = proc.returncode
        return RunResult(exit_code=code if code >= 0 else 128 - code, stdout=_read_clipped(out),
                         stderr=_read_clipped(err), timed_out=timed_out,
                         duration=time.monotonic() - start)
