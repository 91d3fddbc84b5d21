"""Checks that decide whether a generated project works, producing structured failures."""

from healer.checks.runner import run_checks

__all__ = ["run_checks"]
