"""Element ids that an extension page's scripts look up must exist in that page's HTML.

A script is checked against every HTML page that loads it (directly or through imports); an id
counts as present when the page declares it or one of its scripts creates it. Content scripts
run on arbitrary pages and are not checked. MV3's content security policy also blocks inline
scripts and inline event handlers in extension pages, so those are reported here too.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from healer.checks.extension.sources import (
    HtmlPage,
    html_pages,
    import_closure,
    line_of,
    read_text,
)
from healer.models import CheckResult, Failure

CHECK = "extension.dom"

_BY_ID = re.compile(r"""\bgetElementById\s*\(\s*(['"`])([^'"`$]+?)\1\s*\)""")
_SELECTOR = re.compile(
    r"""(?:\bquerySelector(?:All)?|\bclosest|(?<![\w$.])\$|\bjQuery)\s*\(\s*(['"`])([^'"`]+?)\1"""
)
_ID_IN_SELECTOR = re.compile(r"(?:^|[\s>+~,(])#([A-Za-z_][\w-]*)|^#([A-Za-z_][\w-]*)")
_CREATED_ID = re.compile(
    r"""\bid\s*[=:]\s*\\?['"`]([\w-]+)|setAttribute\s*\(\s*['"]id['"]\s*,\s*['"`]([\w-]+)"""
)


@dataclass
class Lookup:
    file: str
    line: int
    element_id: str
    code: str


def id_lookups(path: str, text: str) -> list[Lookup]:
    found = []
    for match in _BY_ID.finditer(text):
        found.append(Lookup(path, line_of(text, match.start()), match.group(2), match.group(0)))
    for match in _SELECTOR.finditer(text):
        selector = match.group(2)
        for id_match in _ID_IN_SELECTOR.finditer(selector):
            element_id = id_match.group(1) or id_match.group(2)
            found.append(Lookup(path, line_of(text, match.start()), element_id, match.group(0)))
    return found


def created_ids(text: str) -> set[str]:
    return {a or b for a, b in _CREATED_ID.findall(text)}


def _scripts_by_page(project: Path, pages: list[HtmlPage]) -> dict[str, list[str]]:
    return {page.path: import_closure(project, page.scripts) for page in pages}


def _known_ids(project: Path, page: HtmlPage, scripts: list[str]) -> set[str]:
    ids = set(page.ids)
    for rel in scripts:
        ids |= created_ids(read_text(project, rel))
    return ids


def missing_ids(project: Path, content_scripts: set[str]) -> list[Failure]:
    pages = html_pages(project)
    scripts_by_page = _scripts_by_page(project, pages)
    ids_by_page = {p.path: _known_ids(project, p, scripts_by_page[p.path]) for p in pages}
    pages_of_script: dict[str, list[str]] = {}
    for page_path, scripts in scripts_by_page.items():
        for rel in scripts:
            pages_of_script.setdefault(rel, []).append(page_path)
    failures = []
    for rel, page_paths in sorted(pages_of_script.items()):
        if rel in content_scripts:
            continue
        available = set().union(*(ids_by_page[p] for p in page_paths))
        for lookup in id_lookups(rel, read_text(project, rel)):
            if lookup.element_id not in available:
                failures.append(
                    Failure(
                        check=CHECK,
                        file=rel,
                        line=lookup.line,
                        message=(
                            f"{lookup.code} looks up id {lookup.element_id!r}, which "
                            f"{' / '.join(page_paths)} does not contain"
                        ),
                        excerpt=lookup.code,
                    )
                )
    return failures


def csp_violations(project: Path) -> list[Failure]:
    failures = []
    for page in html_pages(project):
        for line in page.inline_scripts:
            failures.append(
                Failure(
                    check=CHECK,
                    file=page.path,
                    line=line,
                    message="inline <script> is blocked by Manifest V3's content security policy; "
                    "move it to a .js file loaded with <script src>",
                )
            )
        for line, attribute in page.inline_handlers:
            failures.append(
                Failure(
                    check=CHECK,
                    file=page.path,
                    line=line,
                    message=f"inline event handler {attribute}= is blocked by Manifest V3's "
                    "content security policy; use addEventListener in a script",
                )
            )
    return failures


def dom_check(project: Path, content_scripts: set[str]) -> CheckResult:
    started = time.monotonic()
    failures = missing_ids(project, content_scripts) + csp_violations(project)
    return CheckResult(
        name=CHECK,
        passed=not failures,
        failures=failures,
        duration=time.monotonic() - started,
    )
