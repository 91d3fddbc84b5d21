"""Building chat messages from prompt templates."""

from __future__ import annotations

from healer.prompts import render, template


def chat(prompt: str, **values: object) -> list[dict[str, str]]:
    """A system message and one user message filled from the template `prompt`."""
    return [
        {"role": "system", "content": template("system").template.strip()},
        {"role": "user", "content": render(prompt, **values)},
    ]
