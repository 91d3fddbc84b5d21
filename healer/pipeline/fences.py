"""Taking a file's content out of a model's answer, code fences and all (and the undefined
names a model left, where their fix is certain: name_fixes)."""

from __future__ import annotations

import re
from collections.abc import Collection

from healer.errors import ModelOutputError
from healer.models import GeneratedFile
from healer.pipeline.name_fixes import fix_names

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+#.-]*)\s*$")
MARKDOWN = (".md", ".markdown", ".mdx", ".rst")


def strip_fences(answer: str, path: str = "") -> str:
    """The file content in `answer`.

    An answer wrapped in a fence loses only that outer fence (inner fences of a Markdown file
    survive). Prose around fenced blocks is dropped and the longest block kept. An answer
    with no fences is the content itself. The result ends with exactly one newline.
    """
    lines = answer.strip("\n").splitlines()
    if not lines:
        return ""
    if FENCE.match(lines[0]):
        body = _outer_block(lines)
    elif path.lower().endswith(MARKDOWN):
        start = _wrapped_after_prose(lines)
        body = lines if start is None else _outer_block(lines[start:])
    else:
        blocks = fenced_blocks(lines)
        body = max(blocks, key=len) if blocks else lines
    return "\n".join(body).rstrip() + "\n"


def _wrapped_after_prose(lines: list[str]) -> int | None:
    """Where a fence that wraps the rest of the answer opens after a short preamble."""
    if not FENCE.match(lines[-1]) or FENCE.match(lines[-1]).group(2):  # type: ignore[union-attr]
        return None
    for index, line in enumerate(lines[:4]):
        if FENCE.match(line):
            preamble = [p for p in lines[:index] if p.strip()]
            return index if preamble and not any(p.startswith("#") for p in preamble) else None
    return None


def _outer_block(lines: list[str]) -> list[str]:
    opener = FENCE.match(lines[0]).group(1)  # type: ignore[union-attr]
    for end in range(len(lines) - 1, 0, -1):
        closer = FENCE.match(lines[end])
        if closer and closer.group(1)[0] == opener[0] and len(closer.group(1)) >= len(opener) \
                and not closer.group(2):
            return lines[1:end]
    return lines[1:]  # an unclosed fence: the answer was cut or sloppy; keep what is there


def fenced_blocks(lines: list[str]) -> list[list[str]]:
    """Contents of top-level fenced blocks, in order."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    opener = ""
    for line in lines:
        match = FENCE.match(line)
        if current is None:
            if match:
                current, opener = [], match.group(1)
        elif match and match.group(1).startswith(opener[0]) and len(match.group(1)) >= len(opener) \
                and not match.group(2):
            blocks.append(current)
            current = None
        else:
            current.append(line)
    if current:
        blocks.append(current)
    return blocks


def file_from_answer(answer: str, path: str, local: Collection[str] = ()) -> GeneratedFile:
    """The whole file `path` that `answer` holds, its certain undefined names fixed
    (name_fixes; `local`: the project's own top-level modules)."""
    content = strip_fences(answer, path)
    if not content.strip():
        raise ModelOutputError(f"the model returned an empty file for {path}")
    return GeneratedFile(path=path, content=fix_names(path, content, local))
