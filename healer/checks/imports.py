"""Which top-level modules a project may import: its own, the standard library's, and those
its declared dependencies provide (distribution names mapped to import names)."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from healer.pyimports import imports
from healer.sandbox.project import EXCLUDED

# distributions whose import name is not their normalised project name
DIST_TO_IMPORTS: dict[str, tuple[str, ...]] = {
    "beautifulsoup4": ("bs4",),
    "pyyaml": ("yaml",),
    "scikit-learn": ("sklearn",),
    "scikit-image": ("skimage",),
    "pillow": ("PIL",),
    "python-dateutil": ("dateutil",),
    "python-dotenv": ("dotenv",),
    "opencv-python": ("cv2",),
    "opencv-python-headless": ("cv2",),
    "attrs": ("attr", "attrs"),
    "protobuf": ("google",),
    "pyjwt": ("jwt",),
    "psycopg2-binary": ("psycopg2",),
    "pyserial": ("serial",),
    "pycryptodome": ("Crypto",),
    "pyzmq": ("zmq",),
    "websocket-client": ("websocket",),
    "python-multipart": ("multipart",),
    "faiss-cpu": ("faiss",),
    "discord.py": ("discord",),
    "ruamel.yaml": ("ruamel",),
    "typing-extensions": ("typing_extensions",),
    "msgpack-python": ("msgpack",),
    "python-magic": ("magic",),
    "pymupdf": ("fitz",),
    "google-cloud-storage": ("google",),
    "markdown": ("markdown",),
    "setuptools": ("setuptools", "pkg_resources"),
    "uvicorn": ("uvicorn",),
    "email-validator": ("email_validator",),
    "python-slugify": ("slugify",),
    "pysocks": ("socks",),
    "tensorflow-cpu": ("tensorflow",),
}
# present in every Python sandbox image
ALWAYS_AVAILABLE = frozenset({"pytest", "_pytest", "pip", "pkg_resources", "setuptools"})
_DIST_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def import_names(requirement: str) -> set[str]:
    """Import names a requirement line provides ("PyYAML>=6" -> {"yaml"})."""
    match = _DIST_NAME.match(requirement)
    if not match:
        return set()
    dist = match.group(1).lower().replace("_", "-")
    known = DIST_TO_IMPORTS.get(dist)
    if known:
        return set(known)
    return {dist.replace("-", "_").replace(".", "_"), dist.split(".")[0].replace("-", "_")}


def local_modules(project: Path) -> set[str]:
    """Top-level modules and packages of the project (root, src/ and every folder with code)."""
    names: set[str] = set()
    for path in project.rglob("*.py"):
        rel = path.relative_to(project)
        if any(part in EXCLUDED for part in rel.parts):
            continue
        names.add(path.stem)  # scripts import siblings by their bare name
        names.update(part for part in rel.parts[:-1])
    return names


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True for an import inside `try: ... except ImportError` (an optional dependency)."""
    current = parents.get(node)
    while current is not None:
        if isinstance(current, ast.Try):
            for handler in current.handlers:
                caught = ast.unparse(handler.type) if handler.type else "BaseException"
                if any(n in caught for n in ("ImportError", "ModuleNotFoundError", "Exception")):
                    return True
        current = parents.get(current)
    return False


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    """(top-level module, line) of every absolute, unguarded import in a parsed module."""
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    return [(found.top, found.line) for found in imports(tree)
            if found.top and not _guarded(found.node, parents)]


def provided_modules(project: Path, dependencies: list[str]) -> set[str]:
    provided = set(sys.stdlib_module_names) | ALWAYS_AVAILABLE | local_modules(project)
    for requirement in dependencies:
        provided |= import_names(requirement)
    return provided
