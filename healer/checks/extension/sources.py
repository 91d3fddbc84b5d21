"""Reading an unpacked extension's files: which exist, what HTML pages load, what scripts import."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from healer.pipeline.codebase import SKIPPED_DIRS

MAX_BYTES = 2_000_000

_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)
_IMPORT = re.compile(
    r"""(?:\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?|\bimport\s*\(\s*|\bimportScripts\s*\(\s*)"""
    r"""(['"])([^'"]+)\1"""
)
_MODULE_SYNTAX = re.compile(r"^\s*(?:import\s*[\w{*'\"$]|export\s)", re.MULTILINE)


def project_files(root: Path, suffix: str) -> list[str]:
    """Relative POSIX paths of the project's files ending in `suffix`, sorted."""
    found = []
    for path in root.rglob(f"*{suffix}"):
        rel = path.relative_to(root)
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if not path.is_symlink() and path.is_file() and path.stat().st_size <= MAX_BYTES:
            found.append(rel.as_posix())
    return sorted(found)


def read_text(root: Path, rel: str) -> str:
    """A project file's text; a symlink or an oversized file reads as empty (it may point
    anywhere on the host, and what it shows would reach the model)."""
    path = root / rel
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_BYTES:
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


def line_of(text: str, index: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, max(index, 0)) + 1


def is_local(ref: str) -> bool:
    return bool(ref.strip()) and not _EXTERNAL.match(ref.strip())


def resolve(base_file: str, ref: str) -> str | None:
    """Resolve a reference found in `base_file` to a project-relative path (None if it leaves)."""
    ref = ref.split("#", 1)[0].split("?", 1)[0].strip()
    if ref.startswith("/"):
        parts: list[str] = []
        ref = ref.lstrip("/")
    else:
        parts = list(PurePosixPath(base_file).parent.parts)
    for part in PurePosixPath(ref).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts) or None


def is_module(text: str) -> bool:
    """Whether a script uses ES module syntax (import/export statements)."""
    return bool(_MODULE_SYNTAX.search(text))


def imports_of(root: Path, rel: str) -> list[str]:
    """Project files a script pulls in through import, import() or importScripts()."""
    text = read_text(root, rel)
    found = []
    for match in _IMPORT.finditer(text):
        ref = match.group(2)
        if is_local(ref):
            target = resolve(rel, ref)
            if target:
                found.append(target)
    return found


def import_closure(root: Path, rels: list[str]) -> list[str]:
    """`rels` plus every existing project file they import, transitively."""
    seen: list[str] = []
    todo = list(rels)
    while todo:
        rel = todo.pop(0)
        if rel in seen or not (root / rel).is_file():
            continue
        seen.append(rel)
        todo.extend(imports_of(root, rel))
    return seen


@dataclass
class Ref:
    """A file an HTML page refers to, with the line of the reference."""

    path: str
    line: int
    kind: str  # "script" or "link"


@dataclass
class HtmlPage:
    path: str
    ids: set[str] = field(default_factory=set)
    refs: list[Ref] = field(default_factory=list)
    inline_scripts: list[int] = field(default_factory=list)  # lines of inline <script> bodies
    inline_handlers: list[tuple[int, str]] = field(default_factory=list)  # (line, attribute)

    @property
    def scripts(self) -> list[str]:
        return [r.path for r in self.refs if r.kind == "script"]


class _PageParser(HTMLParser):
    def __init__(self, page: HtmlPage) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self._in_inline_script = False
        self._inline_line = 0
        self._inline_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        line = self.getpos()[0]
        if values.get("id"):
            self.page.ids.add(values["id"])
        for name in values:
            if name.startswith("on") and len(name) > 2:
                self.page.inline_handlers.append((line, name))
        if tag == "script":
            src = values.get("src", "")
            if src:
                self._add_ref(src, line, "script")
            else:
                self._in_inline_script = True
                self._inline_line = line
                self._inline_text = ""
        elif tag == "link" and values.get("href"):
            rel = values.get("rel", "").lower()
            if "stylesheet" in rel or "icon" in rel or "modulepreload" in rel:
                self._add_ref(values["href"], line, "link")

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self._inline_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_inline_script:
            self._in_inline_script = False
            if self._inline_text.strip():
                self.page.inline_scripts.append(self._inline_line)

    def _add_ref(self, ref: str, line: int, kind: str) -> None:
        if is_local(ref):
            target = resolve(self.page.path, ref)
            if target:
                self.page.refs.append(Ref(target, line, kind))


def parse_html(root: Path, rel: str) -> HtmlPage:
    page = HtmlPage(path=rel)
    parser = _PageParser(page)
    parser.feed(read_text(root, rel))
    parser.close()
    return page


def html_pages(root: Path) -> list[HtmlPage]:
    return [parse_html(root, rel) for rel in project_files(root, ".html")]
