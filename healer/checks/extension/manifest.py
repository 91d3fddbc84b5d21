"""manifest.json: parsing with positions, required keys, and every file it refers to."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from healer.checks.extension.sources import html_pages, line_of, resolve
from healer.models import CheckResult, Failure

CHECK = "extension.manifest"
MANIFEST = "manifest.json"
_VERSION = re.compile(r"^\d+(?:\.\d+){0,3}$")
_GLOB = re.compile(r"[*?\[]")


@dataclass
class Manifest:
    data: dict[str, Any]
    text: str

    def line_of_value(self, value: str) -> int | None:
        """Line where a string value (or key) first appears in manifest.json."""
        index = self.text.find(json.dumps(value))
        return line_of(self.text, index) if index >= 0 else None

    @property
    def service_worker(self) -> str | None:
        background = self.data.get("background")
        worker = background.get("service_worker") if isinstance(background, dict) else None
        return worker if isinstance(worker, str) and worker else None

    @property
    def popup(self) -> str | None:
        action = self.data.get("action") or self.data.get("browser_action") or {}
        popup = action.get("default_popup") if isinstance(action, dict) else None
        return popup if isinstance(popup, str) and popup else None

    @property
    def options_page(self) -> str | None:
        options_ui = self.data.get("options_ui")
        page = options_ui.get("page") if isinstance(options_ui, dict) else None
        page = page or self.data.get("options_page")
        return page if isinstance(page, str) and page else None

    @property
    def content_scripts(self) -> list[dict[str, Any]]:
        entries = self.data.get("content_scripts")
        return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []

    def content_script_files(self) -> list[str]:
        return [f for e in self.content_scripts for f in _strings(e.get("js"))]

    def content_script_matches(self) -> list[str]:
        return [m for e in self.content_scripts for m in _strings(e.get("matches"))[:1]]

    def referenced_files(self) -> list[tuple[str, str]]:
        """(manifest key, file) for every file the manifest points at."""
        data = self.data
        refs: list[tuple[str, str]] = []
        if self.service_worker:
            refs.append(("background.service_worker", self.service_worker))
        for i, entry in enumerate(self.content_scripts):
            refs += [(f"content_scripts[{i}].js", f) for f in _strings(entry.get("js"))]
            refs += [(f"content_scripts[{i}].css", f) for f in _strings(entry.get("css"))]
        if self.popup:
            refs.append(("action.default_popup", self.popup))
        action = data.get("action")
        if isinstance(action, dict):
            refs += [("action.default_icon", f) for f in _icon_files(action.get("default_icon"))]
        refs += [("icons", f) for f in _icon_files(data.get("icons"))]
        if self.options_page:
            refs.append(("options", self.options_page))
        for key in ("devtools_page",):
            refs += [(key, f) for f in _strings(data.get(key))]
        side_panel = data.get("side_panel")
        if isinstance(side_panel, dict):
            refs += [
                ("side_panel.default_path", f) for f in _strings(side_panel.get("default_path"))
            ]
        overrides = data.get("chrome_url_overrides")
        if isinstance(overrides, dict):
            refs += [("chrome_url_overrides", f) for f in overrides.values() if isinstance(f, str)]
        for entry in data.get("web_accessible_resources") or []:
            if isinstance(entry, dict):
                resources = _strings(entry.get("resources"))
                refs += [("web_accessible_resources", f) for f in resources if not _GLOB.search(f)]
        locale = data.get("default_locale")
        if isinstance(locale, str) and locale:
            refs.append(("default_locale", f"_locales/{locale}/messages.json"))
        return refs


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _icon_files(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str)]
    return _strings(value)


def load_manifest(project: Path) -> Manifest | Failure:
    """The parsed manifest, or a Failure saying why it cannot be read."""
    path = project / MANIFEST
    if path.is_symlink():
        return Failure(check=CHECK, file=MANIFEST, message="manifest.json is a symlink; healer "
                       "does not follow links out of the project")
    if not path.is_file():
        return Failure(check=CHECK, file=MANIFEST, message="manifest.json is missing")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        excerpt = "\n".join(text.splitlines()[max(exc.lineno - 3, 0) : exc.lineno + 1])
        return Failure(
            check=CHECK,
            file=MANIFEST,
            line=exc.lineno,
            message=f"manifest.json is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            excerpt=excerpt,
        )
    if not isinstance(data, dict):
        return Failure(
            check=CHECK, file=MANIFEST, line=1, message="manifest.json is not a JSON object"
        )
    return Manifest(data=data, text=text)


def is_extension(project: Path) -> bool:
    """A folder holding a Manifest V3 extension (manifest.json with manifest_version 3)."""
    manifest = load_manifest(Path(project))
    return isinstance(manifest, Manifest) and manifest.data.get("manifest_version") == 3


def required_keys(manifest: Manifest) -> list[Failure]:
    data = manifest.data
    failures = []

    def fail(message: str, key: str) -> None:
        failures.append(
            Failure(check=CHECK, file=MANIFEST, line=manifest.line_of_value(key), message=message)
        )

    if data.get("manifest_version") != 3:
        fail(
            f"manifest_version must be 3, found {data.get('manifest_version')!r}",
            "manifest_version",
        )
    for key in ("name", "version"):
        if not isinstance(data.get(key), str) or not data.get(key, "").strip():
            fail(f"manifest.json needs a non-empty string {key!r}", key)
    version = data.get("version")
    if isinstance(version, str) and version.strip() and not _VERSION.match(version):
        fail(f"version {version!r} must be one to four dot-separated integers", "version")
    background = data.get("background")
    if isinstance(background, dict) and ("scripts" in background or "page" in background):
        fail(
            "Manifest V3 needs background.service_worker, not background.scripts/page", "background"
        )
    if "browser_action" in data or "page_action" in data:
        fail("Manifest V3 uses 'action' instead of browser_action/page_action", "browser_action")
    return failures


def missing_files(project: Path, manifest: Manifest) -> list[Failure]:
    failures = []
    for key, ref in manifest.referenced_files():
        target = resolve(MANIFEST, ref)
        if target is None or not (project / target).is_file():
            failures.append(
                Failure(
                    check=CHECK,
                    file=MANIFEST,
                    line=manifest.line_of_value(ref),
                    message=f"{key} refers to {ref!r}, which does not exist",
                )
            )
    return failures


def missing_page_refs(project: Path) -> list[Failure]:
    """<script src> and <link href> in the extension's HTML pages that point at no file."""
    failures = []
    for page in html_pages(project):
        for ref in page.refs:
            if not (project / ref.path).is_file():
                failures.append(
                    Failure(
                        check=CHECK,
                        file=page.path,
                        line=ref.line,
                        message=f"<{ref.kind}> refers to {ref.path!r}, which does not exist",
                    )
                )
    return failures


def manifest_check(project: Path) -> tuple[CheckResult, Manifest | None]:
    started = time.monotonic()
    loaded = load_manifest(project)
    if isinstance(loaded, Failure):
        failures = [loaded]
        manifest = None
    else:
        manifest = loaded
        failures = required_keys(manifest) + missing_files(project, manifest)
    failures += missing_page_refs(project)
    result = CheckResult(
        name=CHECK,
        passed=not failures,
        failures=failures,
        duration=time.monotonic() - started,
    )
    return result, manifest
