"""Edit formats: how a model is asked to write its edits, paired with the parser that reads
them back. Register one under the entry point group `healer.edit_formats` (see
healer.plugins); the setting `edit_format` names one. healer's search/replace and whole-file
formats are registered that way."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from healer.models import Edit
from healer.pipeline.codebase import fence_language
from healer.pipeline.edit_parser import parse_edits
from healer.pipeline.fences import fenced_blocks
from healer.plugins import Registry
from healer.prompts import render

MIN_REWRITE_LINES = 3


@dataclass(frozen=True)
class EditFormat:
    """`prompt`: a template with $path (a real file of the project, as the example) and $lang
    (its fence language), from `prompts/`, or from `prompt_dir` for a plugin's own; `parse`
    reads an answer into edits, given the example path."""

    name: str
    prompt: str
    parse: Callable[[str, str], list[Edit]]
    prompt_dir: Path | None = None

    def instructions(self, example_path: str) -> str:
        """How to write edits, with a real path of the project as the example (a small model
        copies the example path literally)."""
        values = {"path": example_path, "lang": fence_language(example_path)}
        if self.prompt_dir is None:
            return render(self.prompt, **values)
        from string import Template

        return Template((self.prompt_dir / f"{self.prompt}.md").read_text()).substitute(values)


def unlabeled_rewrite(text: str, path: str) -> list[Edit]:
    """A whole-file answer that forgot its path line: its longest fenced block rewrites the
    file the instructions named (a short block is a quote, not a file)."""
    blocks = fenced_blocks(text.splitlines())
    longest = max(blocks, key=len, default=[])
    if len(longest) < MIN_REWRITE_LINES:
        return []
    return [Edit(path=path, search=None, replace="\n".join(longest).rstrip() + "\n")]


def _whole_files(text: str, example: str) -> list[Edit]:
    return parse_edits(text) or unlabeled_rewrite(text, example)


SEARCH_REPLACE = EditFormat("search-replace", "format_search_replace",
                            lambda text, _example: parse_edits(text))
WHOLE_FILE = EditFormat("whole-file", "format_whole_file", _whole_files)
EDIT_FORMATS: Registry[EditFormat] = Registry("healer.edit_formats", "edit format")
