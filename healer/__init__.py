"""healer: spec in, working program out.

Turns a Markdown product spec into a codebase, runs its checks in a sandbox and repairs what
breaks until the checks pass or the budget runs out.

As a library: `healer.build(spec, output, ...)`, `healer.check(folder)` and
`healer.debug(error, folder, ...)` (see healer.api). They are imported on first use, so
`import healer` alone stays light.
"""

__version__ = "0.1.0"
__all__ = ["build", "check", "debug"]


def __getattr__(name: str):
    if name in __all__:
        from healer import api

        return getattr(api, name)
    raise AttributeError(f"module 'healer' has no attribute {name!r}")
