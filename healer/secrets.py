"""Files that look like secrets: never read into a prompt, never copied for a model, never
committed by healer (`.env*`, keys and certificates, ssh identities, credential files)."""

from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath

from healer.gitcmd import git

SECRET_GLOBS = (".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*",
                "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".npmrc", ".pypirc",
                ".git-credentials", "*.kdbx")
NAMED_GLOBS = ("*credentials*", "*secret*")  # data files so named; `secrets.py` is code
TEMPLATES = (".env.example", ".env.sample", ".env.template", ".env.dist")
CODE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".java", ".rb",
                 ".md", ".html", ".css")


def is_secret_like(rel: str) -> bool:
    name = PurePosixPath(rel).name.lower()
    if name in TEMPLATES:
        return False
    if any(fnmatch.fnmatchcase(name, glob) for glob in SECRET_GLOBS):
        return True
    return not name.endswith(CODE_SUFFIXES) and any(fnmatch.fnmatchcase(name, g)
                                                     for g in NAMED_GLOBS)


def ignored_files(root: Path) -> set[str]:
    """Files git ignores in `root` (the user's choice to keep them out of the repository)."""
    if not (root / ".git").exists():
        return set()
    result = git(root, "ls-files", "--others", "--ignored", "--exclude-standard", "-z",
                 text=False)
    if result.returncode != 0:
        return set()
    return {p for p in result.stdout.decode(errors="replace").split("\0") if p}


def private_files(root: Path) -> set[str]:
    """Every file of `root` that must not reach a model: secret-like or git-ignored."""
    found = ignored_files(root)
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if ".git" not in path.relative_to(root).parts and is_secret_like(rel):
            found.add(rel)
    return found
