"""Checks for Chrome (Manifest V3) extensions: static analysis and a run in real Chromium."""

from healer.checks.extension.checks import extension_checks
from healer.checks.extension.manifest import is_extension
from healer.checks.extension.spec import (
    ExtensionSpec,
    SmokeStep,
    Stub,
    parse_extension_spec,
)

__all__ = [
    "ExtensionSpec",
    "SmokeStep",
    "Stub",
    "extension_checks",
    "is_extension",
    "parse_extension_spec",
]
