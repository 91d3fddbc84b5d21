"""What the sandbox backends share: running a process group with a timeout, clipping output."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

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


def run_group(argv: list[str], *, timeout: float, **popen: Any) -> RunResult:
    """Run `argv` in its own process group; on timeout the whole group is killed."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, **popen)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    code = proc.returncode
    return RunResult(exit_code=code if code >= 0 else 128 - code, stdout=clip(stdout),
                     stderr=clip(stderr), timed_out=timed_out, duration=time.monotonic() - start)
