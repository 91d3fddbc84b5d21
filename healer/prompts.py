"""Prompt templates: Markdown files in `prompts/`, filled with `string.Template` ($name)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from string import Template

from healer.errors import HealerError


def _prompt_dirs() -> list[Path]:
    installed = Path(str(resources.files("healer"))) / "_data" / "prompts"
    source = Path(__file__).resolve().parent.parent / "prompts"
    return [d for d in (installed, source) if d.is_dir()]


@functools.cache
def template(name: str) -> Template:
    for folder in _prompt_dirs():
        path = folder / f"{name}.md"
        if path.is_file():
            return Template(path.read_text())
    raise HealerError(f"prompt template {name!r} is missing from the installation")


def render(name: str, **values: object) -> str:
    """Fill prompt `name`; every $placeholder in it must be given."""
    try:
        return template(name).substitute({k: str(v) for k, v in values.items()})
    except KeyError as exc:
        raise HealerError(f"prompt {name!r} needs a value for {exc}") from exc
