"""Variety and no work twice: how each candidate of a round is sampled differently, and how
code already checked in a build is recognised (whatever its blank lines and comments)."""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

from healer.models import GeneratedFile
from healer.paths import confined, matches
from healer.pipeline.generate import Sampling
from healer.prompts import render

TEMPERATURE_STEP = 0.25
MAX_TEMPERATURE = 1.0
ROUND_SEEDS = 1000  # candidate K of round R is sampled with seed K + 1000 R
_COMMENT = re.compile(r"(?m)^\s*(#|//).*$")

def hints() -> list[str]:
    """The prompt variants of candidates 2, 3, ...: one per paragraph of the prompt file."""
    return [h.strip() for h in render("candidate_hints").split("\n\n") if h.strip()]


def sampling_for(number: int, base_temperature: float, round_index: int = 0) -> Sampling:
    """Candidate 1 is sampled as a single build would be; each later one hotter, with its own
    seed and hint. The seed is the round's too: a round made from the same code as an earlier
    one (that one did worse than the best) asks the same prompts, and a seed of the same
    number would bring the same answers back."""
    if number <= 1:
        return Sampling()
    variants = hints()
    temperature = min(MAX_TEMPERATURE, base_temperature + TEMPERATURE_STEP * (number - 1))
    return Sampling(temperature=temperature, seed=number + ROUND_SEEDS * round_index,
                    hint=variants[(number - 2) % len(variants)] if variants else "")


def fingerprint(files: dict[str, str]) -> str:
    """The same code, whatever its blank lines, trailing spaces and whole-line comments."""
    digest = hashlib.sha256()
    for path, content in sorted(files.items()):
        body = "\n".join(line.rstrip() for line in _COMMENT.sub("", content).splitlines()
                         if line.strip())
        digest.update(f"{path}\0{body}\0".encode())
    return digest.hexdigest()


def implementation(tree: Path, protected: list[str]) -> dict[str, str]:
    """The project's own text files in a checkout: what a candidate is, for comparing."""
    from healer.workspace import Workspace

    return {p: t for p, t in Workspace(tree).text_files().items() if p not in protected}


def reset(tree: Path, original: dict[str, str], protected: list[str]) -> None:
    """Put the checkout's files back as they were before a candidate was written into it."""
    for path in set(implementation(tree, protected)) - set(original):
        confined(tree, path).unlink(missing_ok=True)
    for path, content in original.items():
        target = confined(tree, path)
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")


class Seen:
    """Fingerprints of the code checked so far in a build, shared by the threads of a search."""

    def __init__(self) -> None:
        self._prints: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, fingerprint: str, owner: str) -> bool:
        """False when other code (another candidate, the code it starts from) already had it."""
        with self._lock:
            first = self._prints.setdefault(fingerprint, owner)
            return first == owner


def write_files(tree: Path, files: list[GeneratedFile], keep: list[str]) -> None:
    """Write a candidate's files into its checkout; a file the spec keeps stays as it is."""
    for f in files:
        target = confined(tree, f.path)
        if target.exists() and matches(f.path, keep):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.content, encoding="utf-8")
