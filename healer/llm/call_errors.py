"""How a failed call to an endpoint reads: in words, worth retrying or not, how long it asks
to wait."""

from __future__ import annotations

import openai

TRANSIENT_STATUSES = frozenset({408, 409, 429})


def describe(error: BaseException | None) -> str:
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}: {error.message}"
    if isinstance(error, openai.APITimeoutError):
        return "timed out"
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__
        return f"connection failed ({cause or error})"
    return f"{type(error).__name__}: {error}"


def is_transient(error: BaseException) -> bool:
    """Worth retrying: rate limits, server errors, timeouts and dropped connections."""
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in TRANSIENT_STATUSES or error.status_code >= 500
    return False


def retry_after(error: BaseException | None) -> float:
    """Seconds a Retry-After header asks for, 0.0 when absent or unreadable."""
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0
