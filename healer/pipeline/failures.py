"""Presenting structured failures to the model."""

from __future__ import annotations

from healer.models import Failure

MAX_FAILURES = 12
MAX_EXCERPT = 2500
EXCERPT_WITH_FACTS = 800  # the log matters less once the facts are stated
LOGS_WITH_FACTS = 2  # failures with facts whose log is shown too: the facts say the rest


def format_failures(failures: list[Failure], *, limit: int = MAX_FAILURES) -> str:
    """Markdown: one entry per failure, with its location, message and facts. Its log excerpt
    is shown when it has no facts, and for the first LOGS_WITH_FACTS that have some (the
    others' logs repeat what their facts say); a fact the message already says is left out."""
    parts, logs = [], 0
    for f in failures[:limit]:
        where = f.file or "?"
        if f.line:
            where += f":{f.line}"
        message = f.message.strip()
        entry = f"## {f.check} - {where}\n{message}"
        entry += "".join(f"\n- {name}: {value}" for name, value in f.facts.items()
                         if not _said(str(value), message))
        excerpt = f.excerpt.strip()
        if excerpt and (not f.facts or logs < LOGS_WITH_FACTS):
            logs += bool(f.facts)
            most = EXCERPT_WITH_FACTS if f.facts else MAX_EXCERPT
            if len(excerpt) > most:
                excerpt = excerpt[:most // 2] + "\n[...]\n" + excerpt[-most // 2:]
            entry += f"\n```\n{excerpt}\n```"
        parts.append(entry)
    if len(failures) > limit:
        parts.append(f"(and {len(failures) - limit} more failures)")
    return "\n\n".join(parts) if parts else "(no details)"


def _said(fact: str, message: str) -> bool:
    """Whether the message already states the fact (a short one, a number say, could be
    found in it by chance)."""
    return len(fact.strip()) >= 12 and fact.strip() in message


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
