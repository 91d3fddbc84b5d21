"""The acceptance contract: what "green" promises about the user's own tests."""

from healer.checks.acceptance.contract import (
    NAME,
    Contract,
    collect,
    file_digest,
    judge,
    not_run,
    run,
    tests_digest,
)

__all__ = ["NAME", "Contract", "collect", "file_digest", "judge", "not_run", "run", "tests_digest"]
