"""`healer watch`: build, then change the build whenever the spec, a per-file spec or an
acceptance test changes.

The inputs are polled (a hash of the spec as healer reads it, per-file specs and the tests'
bytes); a change is acted on once they have been still for `debounce` seconds, so an editor's
save-in-steps is one change. One build runs at a time: what changes during a build is seen
when it ends. A spec that does not parse mid-edit is reported and waited out. A build after
the first changes the folder (see healer.changes): nothing is generated anew.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from healer.errors import SpecError
from healer.models import RunReport
from healer.spec import acceptance_files, load_spec
from healer.state import spec_hash

Builder = Callable[[], RunReport]


def fingerprint(spec_arg: str, tests: list[str] | None) -> str:
    """What a build depends on, as one hash; a SpecError when the spec does not parse."""
    spec = load_spec(spec_arg, tests=tests)
    digest = hashlib.sha256(spec_hash(spec).encode())
    for rel, path in sorted(acceptance_files(spec).items()):
        digest.update(rel.encode())
        digest.update(path.read_bytes() if path.is_file() else b"(missing)")
    return digest.hexdigest()


def watch(spec_arg: str, tests: list[str] | None, build: Builder, *,
          say: Callable[[str], None], poll: float = 0.5, debounce: float = 1.0,
          max_builds: int | None = None) -> int:
    """Build now and after every change, until `max_builds` builds (None: until Ctrl-C);
    the number of builds made."""
    builds, seen = 0, None
    while max_builds is None or builds < max_builds:
        current = _settled(spec_arg, tests, seen, say, poll, debounce)
        if builds:
            say("the spec or its tests changed: building")
        report = build()
        builds += 1
        seen = current
        say(f"build {builds}: {report.status} ({report.stop_reason}); watching for changes "
            "(Ctrl-C to stop)")
    return builds


def _settled(spec_arg: str, tests: list[str] | None, seen: str | None,
             say: Callable[[str], None], poll: float, debounce: float) -> str:
    """The inputs' fingerprint once it differs from `seen` and has been still for
    `debounce` seconds."""
    broken = None
    while True:
        try:
            current = fingerprint(spec_arg, tests)
        except (SpecError, OSError) as exc:
            if str(exc) != broken:
                say(f"cannot read the spec now ({exc}); waiting for the next save")
                broken = str(exc)
            time.sleep(poll)
            continue
        broken = None
        if current == seen:
            time.sleep(poll)
            continue
        still_since = time.monotonic()
        while time.monotonic() - still_since < debounce:
            time.sleep(poll)
            try:
                again = fingerprint(spec_arg, tests)
            except (SpecError, OSError):
                break
            if again != current:
                current, still_since = again, time.monotonic()
        else:
            return current
