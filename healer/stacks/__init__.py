"""The stacks healer knows, and which of them a project is: its image, its environment, its
install step, its checks. A stack is added by registering it (see healer.plugins)."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from pathlib import Path

from healer.plugins import Registry
from healer.sandbox.project import BASE_PATH, DEPS, HOME
from healer.stacks.acceptance import AcceptanceRunner
from healer.stacks.base import CombinedStack, Evidence, Stack

log = logging.getLogger(__name__)

__all__ = [
    "STACKS",
    "CombinedStack",
    "Evidence",
    "Stack",
    "dependency_key",
    "dependency_problems",
    "install_script",
    "languages_of",
    "run_environment",
    "stack_for",
]

STACKS: Registry[Stack] = Registry("healer.stacks", "stack")
DEFAULT = "python"  # a project with no file of any stack's language yet


def all_stacks() -> list[Stack]:
    return sorted(STACKS.values(), key=lambda s: (s.priority, s.name))


def languages() -> list[Stack]:
    """The registered language stacks (not the combined images), in detection order."""
    return [stack for stack in all_stacks() if not stack.parts]


def languages_of(stack: Stack) -> list[Stack]:
    """The languages an image runs: its parts, or the stack itself."""
    return [STACKS.get(name) for name in stack.parts] if stack.parts else [stack]


def stack_for(project: Path) -> Stack:
    """The stack whose image runs `project`: the one language found, or the registered
    combination of the most of them (the first found alone when none combines them). Files that count only alone (loose .js files) are looked at
    when nothing else is found; a project with nothing yet is a Python project."""
    evidence = {stack.name: stack.detect(project) for stack in languages()}
    found = [name for name, seen in evidence.items() if seen is Evidence.FOUND] or \
        [name for name, seen in evidence.items() if seen is Evidence.ALONE][:1]
    if not found:
        return STACKS.get(DEFAULT)
    if len(found) == 1:
        return STACKS.get(found[0])
    combined = [stack for stack in all_stacks() if stack.parts and set(stack.parts) <= set(found)]
    best = max(combined, key=lambda stack: len(stack.parts), default=STACKS.get(found[0]))
    left = [name for name in found if name not in {s.name for s in languages_of(best)}]
    if left:
        log.warning("no sandbox image runs %s beside %s: they are not checked",
                    " and ".join(left), best.name)
    return best


def acceptance_runner(rel: str) -> AcceptanceRunner | None:
    """The registered stack's runner of an acceptance test file, if a stack has one."""
    return next((stack.acceptance for stack in languages()
                 if stack.acceptance is not None and stack.acceptance.owns(rel)), None)


TEST_FOLDERS = ("tests", "test", "__tests__")


def is_test_file(path: str) -> bool:
    """Whether a project path is a test: in a test folder, or named as a registered stack
    names its test files. The one rule for "is this a test file"."""
    parts = path.split("/")
    name = parts[-1]
    return any(part in TEST_FOLDERS for part in parts[:-1]) or any(
        fnmatch.fnmatch(name, pattern) for stack in languages() for pattern in stack.test_patterns)


def run_environment(stack: Stack) -> dict[str, str]:
    """The whole environment of a command in `stack`'s image: nothing comes from the host."""
    env = {"HOME": HOME, "TMPDIR": "/tmp", "LANG": "C.UTF-8", "HEALER_STACK": stack.name}
    path: list[str] = []
    for language in languages_of(stack):
        path += language.path()
        env.update(language.environment())
    env["PATH"] = ":".join([*path, BASE_PATH])
    return env


def setup_lines(stack: Stack) -> list[str]:
    """What each language does in /work before a command runs (links to installed modules)."""
    return [line for language in languages_of(stack) if (line := language.setup())]


def install_script(project: Path, stack: Stack | None = None, *,
                   wheels_only: bool = False) -> str | None:
    """A shell script that installs the project's declared dependencies into /deps, or None
    when it declares none."""
    stack = stack or stack_for(project)
    steps = [step for language in languages_of(stack)
             for step in language.install(project, wheels_only=wheels_only)]
    if not steps:
        return None
    return "set -e\nmkdir -p \"$HOME\"\n" + "\n".join(steps) + f"\ntouch {DEPS}/.complete\n"


def dependency_problems(project: Path) -> list[str]:
    """Why the project's dependencies cannot be installed as declared: the install step has
    the package index in reach, so it takes names from the index only, never options, local
    paths or URLs, which would run the project's own build code or reach other hosts. Every
    language's declarations are looked at, whichever stack the project is."""
    return [problem for language in languages() for problem in
            language.dependency_problems(project)]


def dependency_key(project: Path, image: str) -> str:
    """Hash of what the install step depends on and the image: equal keys, nothing to install."""
    digest = hashlib.sha256(image.encode())
    for language in languages_of(stack_for(project)):
        digest.update(f"\0{language.name}\0".encode())
        language.dependency_digest(project, digest)
    return digest.hexdigest()[:16]
