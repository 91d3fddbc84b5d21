"""Presenting structured failures to the model."""

from __future__ import annotations

from healer.models import Failure

MAX_FAILURES = 12
MAX_EXCERPT = 2500


def format_failures(failures: list[Failure], *, limit: int = MAX_FAILURES) -> str:
    """Markdown: one entry per failure, with location, message and its log excerpt."""
    parts = []
    for f in failures[:limit]:
        where = f.file or "?"
        if f.line:
            where += f":{f.line}"
        entry = f"## {f.check} - {where}\n{f.message.strip()}"
        if f.excerpt.strip():
            excerpt = f.excerpt.strip()
            if len(excerpt) > MAX_EXCERPT:
                excerpt = excerpt[:MAX_EXCERPT // 2] + "\n[...]\n" + excerpt[-MAX_EXCERPT // 2:]
            entry += f"\n```\n{excerpt}\n```"
        parts.append(entry)
    if len(failures) > limit:
        parts.append(f"(and {len(failures) - limit} more failures)")
    return "\n\n".join(parts) if parts else "(no details)"


def implicated_files(failures: list[Failure], known: set[str]) -> list[str]:
    """Project files the failures point at, most mentioned first."""
    counts: dict[str, int] = {}
    for f in failures:
        if f.file in known:
            counts[f.file] = counts.get(f.file, 0) + 2
        for path in known:
            if path in f.excerpt or path in f.message:
                counts[path] = counts.get(path, 0) + 1
    return sorted(counts, key=lambda p: -counts[p])
