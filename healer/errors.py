"""The one exception tree of healer.

    HealerError                      base; the CLI turns it into a message and an exit code
    ├── UsageError                   bad input from the user (exit 2)
    │   ├── SpecError                a spec that cannot be read or understood
    │   ├── ConfigError              contradictory or invalid settings
    │   └── PathEscapeError          a path that leaves the output folder
    ├── ModelOutputError             the model answered garbage (after retries)
    ├── EditError                    an edit that cannot be applied
    ├── BudgetSpentError             the build's time or token budget ran out mid-call (exit 1)
    └── InfrastructureError          something healer depends on is unavailable (exit 3)
        ├── EndpointError            the LLM endpoint failed (after retries)
        ├── SandboxError             the sandbox cannot run
        │   └── SandboxUnavailableError  no daemon, no bubblewrap
        └── LocalModelError          the bundled model cannot be assembled or served

Subclasses also inherit the matching built-in where one exists, so callers may catch
either (for example `PathEscapeError` is a `ValueError`).
"""

from __future__ import annotations


class HealerError(Exception):
    """Base of every error healer raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class UsageError(HealerError):
    exit_code = 2


class SpecError(UsageError):
    pass


class ConfigError(UsageError):
    pass


class PathEscapeError(UsageError, ValueError):
    pass


class ModelOutputError(HealerError, ValueError):
    """The model's answer could not be used, even after retrying."""


class EditError(HealerError, ValueError):
    """An edit could not be applied; `reason` is what the model is told."""


class BudgetSpentError(HealerError):
    """`--timeout` or `--max-tokens` ran out while a call or check was under way."""


class CancelledError(HealerError):
    """A call or a check that is no longer wanted (another candidate already won)."""


class InfrastructureError(HealerError):
    exit_code = 3


class EndpointError(InfrastructureError, ConnectionError):
    pass


class ContextOverflowError(EndpointError):
    """The endpoint refused a prompt longer than the model's context: a smaller one may pass."""


class SandboxError(InfrastructureError):
    pass


class SandboxUnavailableError(SandboxError):
    pass


class LocalModelError(InfrastructureError):
    pass
