"""healer: spec in, working program out.

Turns a Markdown product spec into a codebase, runs its checks in a sandbox and repairs what
breaks until the checks pass or the budget runs out.
"""

__version__ = "0.1.0"
