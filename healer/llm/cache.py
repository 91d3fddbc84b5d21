"""An on-disk response cache (sqlite) so that a repeated run costs nothing.

Only complete, successful answers are stored. A broken or locked database never stops a run:
it is logged and treated as a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from healer.models import Completion, Usage

log = logging.getLogger(__name__)

FILE_NAME = "responses.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    finish_reason TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(
    *,
    base_url: str | None,
    model: str | None,
    messages: list[dict[str, str]],
    temperature: float | None,
    max_tokens: int | None,
    json_schema: dict[str, Any] | None,
    seed: int | None,
    at_most: int | None = None,
) -> str:
    """sha256 of a canonical JSON of everything that shapes the answer (`at_most` only when
    set, so the keys of calls without it stay what they were)."""
    fields: dict[str, Any] = {
        "base_url": (base_url or "").rstrip("/"),
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "json_schema": json_schema,
        "seed": seed,
    }
    if at_most is not None:
        fields["at_most"] = at_most
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResponseCache:
    """Thread-safe: one connection shared behind a lock, in WAL mode."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = self._open(busy_timeout)

    def _open(self, busy_timeout: float) -> sqlite3.Connection | None:
        conn = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=busy_timeout, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            conn.commit()
            return conn
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            log.warning(
                "response cache %s unusable, running without it (delete the file to start a"
                " fresh one): %s",
                self.path,
                exc,
            )
            return None

    @property
    def usable(self) -> bool:
        return self._conn is not None

    def get(self, key: str) -> Completion | None:
        row = self._fetch(key)
        if row is None:
            return None
        text, finish_reason, prompt_tokens, completion_tokens = row
        usage = Usage(
            calls=1,
            cached_calls=1,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=0.0,
            cost_usd=0.0,
        )
        return Completion(text=text, finish_reason=finish_reason, usage=usage, cached=True)

    def put(self, key: str, completion: Completion) -> None:
        if self._conn is None:
            return
        row = (
            key,
            completion.text,
            completion.finish_reason,
            completion.usage.prompt_tokens,
            completion.usage.completion_tokens,
            time.time(),
        )
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)", row
                )
                self._conn.commit()
        except sqlite3.Error as exc:
            log.warning("response cache %s: cannot store an answer: %s", self.path, exc)

    def _fetch(self, key: str) -> tuple[str, str, int, int] | None:
        if self._conn is None:
            return None
        query = (
            "SELECT text, finish_reason, prompt_tokens, completion_tokens"
            " FROM responses WHERE key = ?"
        )
        try:
            with self._lock:
                return self._conn.execute(query, (key,)).fetchone()
        except sqlite3.Error as exc:
            log.warning("response cache %s: lookup failed, treated as a miss: %s", self.path, exc)
            return None

    def __len__(self) -> int:
        if self._conn is None:
            return 0
        try:
            with self._lock:
                return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        except sqlite3.Error:
            return 0

    def close(self) -> None:
        if self._conn is not None:
            with self._lock:
                self._conn.close()
            self._conn = None
