"""Reading a product spec: a Markdown file (with per-file specs beside it) or a prompt string.

Sections healer understands in the main spec (any heading level, case-insensitive):
- `## Checks`: commands that must succeed (bullets or a code block), run in the sandbox.
- `## Keep`: globs of files that regeneration never overwrites (assets, images).
- `## Tests` / `## Acceptance tests`: the user's test files or folders, relative to the spec.
  They are copied into the project, shown to the model, and never changed by it.
- `## Files`: bullets that start with the files' paths, in backticks, then a colon; those files
  are always generated, whatever the model's file list says.
Per-file specs: `popup.js.md` beside the spec, or `files/src/app.py.md` under a `files/`
folder beside it, add their text to the prompt of `popup.js` or `src/app.py`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from healer.errors import PathEscapeError, SpecError
from healer.models import Spec
from healer.paths import relative_path

log = logging.getLogger(__name__)
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
SECTION_NAMES = {
    "checks": "checks",
    "keep": "keep",
    "tests": "tests",
    "acceptance tests": "tests",
}
MAX_SPEC_BYTES = 1_000_000
BULLET = re.compile(r"^(?:[-*+]|\d+[.)])\s+(.*)$")  # "- item", "* item", "1. item", "2) item"
FILE_NAME = re.compile(r"^[\w.-]+(/[\w.-]+)*\.[A-Za-z0-9]{1,8}$")  # src/app.py, popup.html


def load_spec(source: str | Path, *, tests: list[str] | None = None) -> Spec:
    """Load a spec from a file path, or treat `source` as the spec text itself."""
    path = Path(source)
    if "\n" not in str(source) and path.is_dir():
        raise SpecError(f"{source} is a folder, not a spec file",
                        hint="give the spec's Markdown file, or the spec text in quotes")
    if _looks_like_path(str(source)):
        if not path.is_file():
            raise SpecError(f"spec file not found: {source}",
                            hint="to give the spec as text, write it in quotes with spaces")
        return _spec_from_file(path, extra_tests=tests or [])
    text = str(source).strip()
    if not text:
        raise SpecError("the spec is empty")
    return _with_sections(Spec(text=text), Path.cwd(), tests or [])


def _looks_like_path(source: str) -> bool:
    """A file name, not a prompt: one line without spaces, or a name with a spec suffix."""
    text = source.strip()
    if "\n" in text:
        return False
    return (Path(text).is_file() or text.endswith((".md", ".markdown", ".txt"))
            or (" " not in text and ("/" in text or "." in text)))


def _spec_from_file(path: Path, *, extra_tests: list[str]) -> Spec:
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(f"spec file is larger than {MAX_SPEC_BYTES // 1000} kB: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec file is not UTF-8 text: {path} ({exc.reason})") from exc
    if not text.strip():
        raise SpecError(f"spec file is empty: {path}")
    spec = Spec(text=text, source=path.resolve(), file_specs=_file_specs(path))
    return _with_sections(spec, path.parent, extra_tests)


def _with_sections(spec: Spec, folder: Path, extra_tests: list[str]) -> Spec:
    sections = sections_of(spec.text)
    tests = [*sections.get("tests", []), *extra_tests]
    return spec.model_copy(
        update={
            "checks": sections.get("checks", []),
            "keep": [relative_path(g) for g in sections.get("keep", [])],
            "acceptance_tests": _expand_tests(folder, tests),
        }
    )


def sections_of(markdown: str) -> dict[str, list[str]]:
    """Items (bullets or code-block lines) of the sections healer understands."""
    found: dict[str, list[str]] = {}
    for section, line, in_code in _section_lines(markdown, SECTION_NAMES):
        item = _item(line, in_code)
        if item:
            found.setdefault(section, []).append(item)
    return found


def named_files(spec: Spec) -> list[str]:
    """Paths the spec's `## Files` section names at the start of its bullets ("- `a.js` and
    `b.js`: ..."), and the files that have a per-file spec: files the project must have."""
    names: list[str] = []
    for _, line, in_code in _section_lines(spec.text, {"files": "files"}):
        bullet = None if in_code else BULLET.match(line.strip())
        if bullet:
            lead = bullet.group(1).split(":", 1)[0]
            names += [n for n in re.findall(r"`([^`\s]+)`", lead) if FILE_NAME.match(n)]
    names += list(spec.file_specs)
    paths = []
    for name in dict.fromkeys(names):
        try:
            paths.append(relative_path(name))
        except PathEscapeError:
            log.warning("the spec names %s, a path outside the project: ignored", name)
    return paths


def file_purposes(spec: Spec) -> dict[str, str]:
    """What the `## Files` bullets say of each file they start with ("- `a.js`: the popup")."""
    found: dict[str, str] = {}
    for _, line, in_code in _section_lines(spec.text, {"files": "files"}):
        bullet = None if in_code else BULLET.match(line.strip())
        if bullet and ":" in bullet.group(1):
            lead, purpose = bullet.group(1).split(":", 1)
            for name in re.findall(r"`([^`\s]+)`", lead):
                found.setdefault(name, purpose.strip())
    return found


def sections_of_files(spec: Spec) -> bool:
    """Whether the spec lists its files itself, in a `## Files` section."""
    return any(True for _ in _section_lines(spec.text, {"files": "files"}))


def _section_lines(markdown: str, names: dict[str, str]):
    """(section, line, inside a code block) for every line under a heading named in `names`."""
    current: str | None = None
    in_code = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
            continue
        heading = None if in_code else HEADING.match(line)
        if heading:
            current = names.get(heading.group(2).strip().lower().rstrip(":"))
            continue
        if current is not None:
            yield current, line, in_code


def _item(line: str, in_code: bool) -> str | None:
    stripped = line.strip()
    if in_code:
        return stripped or None
    bullet = BULLET.match(stripped)
    if not bullet:
        return None
    text = bullet.group(1).strip()
    code = re.match(r"^`([^`]+)`", text)
    return code.group(1).strip() if code else text


def _expand_tests(folder: Path, entries: list[str]) -> list[str]:
    """Resolve test files/folders to absolute file paths; each must exist."""
    files: list[str] = []
    for entry in entries:
        path = (folder / entry).resolve() if not Path(entry).is_absolute() else Path(entry)
        if path.is_dir():
            files.extend(str(p) for p in sorted(path.rglob("*")) if p.is_file() and _is_source(p))
        elif path.is_file():
            files.append(str(path))
        else:
            raise SpecError(f"acceptance test not found: {entry} (looked in {folder})")
    return list(dict.fromkeys(files))


def _is_source(path: Path) -> bool:
    return "__pycache__" not in path.parts and path.suffix not in (".pyc",)


def _file_specs(main: Path) -> dict[str, str]:
    """Per-file specs: `<file>.md` beside the main spec and under a `files/` folder."""
    specs: dict[str, str] = {}
    for candidate in sorted(main.parent.glob("*.*.md")):
        if candidate != main:
            specs[candidate.name[: -len(".md")]] = candidate.read_text(encoding="utf-8")
    tree = main.parent / "files"
    if tree.is_dir():
        for candidate in sorted(tree.rglob("*.md")):
            target = candidate.relative_to(tree).as_posix()[: -len(".md")]
            if Path(target).suffix:
                specs[relative_path(target)] = candidate.read_text(encoding="utf-8")
    return specs


def acceptance_files(spec: Spec) -> dict[str, Path]:
    """The user's acceptance tests: path inside the project -> the user's file."""
    base = spec.source.parent if spec.source else Path.cwd()
    files: dict[str, Path] = {}
    for test in spec.acceptance_tests:
        path = Path(test)
        try:
            rel = path.relative_to(base).as_posix()
        except ValueError:
            rel = f"tests/{path.name}"
        files[relative_path(rel)] = path
    return files


def prompt_text(spec: Spec) -> str:
    """The spec as the model sees it, with the user's acceptance tests appended."""
    parts = [spec.text.strip()]
    for rel, path in acceptance_files(spec).items():
        parts.append(
            f"\nAcceptance test `{rel}` (it must pass; it is never changed):\n"
            f"```\n{path.read_text(encoding='utf-8').rstrip()}\n```"
        )
    return "\n".join(parts)
