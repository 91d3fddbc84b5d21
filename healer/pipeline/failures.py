"""Presenting structured failures to the model."""

from __future__ import annotations

from healer.models import Failure

MAX_FAILURES = 12
MAX_EXCERPT = 2500
EXCERPT_WITH_FACTS = 800  # the log matters less once the facts are stated


def format_failures(failures: list[Failure], *, limit: int = MAX_FAILURES) -> str:
    """Markdown: one entry per failure, with location, message and its log excerpt."""
    parts = []
    for f in failures[:limit]:
        where = f.file or "?"
        if f.line:
            where += f":{f.line}"
        entry = f"## {f.check} - {where}\n{f.message.strip()}"
        entry += "".join(f"\n- {name}: {value}" for name, value in f.facts.items())
        if f.excerpt.strip():
            excerpt, most = f.excerpt.strip(), EXCERPT_WITH_FACTS if f.facts else MAX_EXCERPT
            if len(excerpt) > most:
                excerpt = excerpt[:most // 2] + "\n[...]\n" + excerpt[-most // 2:]
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
