"""How many tokens the failures of recorded builds take in a repair prompt: every failing
round of the `report.json` files under the folders given, formatted as the debugger and a
fresh sample are shown them (`format_failures`). Prints the total and the median per round.
Run it at two commits (a git worktree of the earlier one) on the same reports to compare.

    .venv/bin/python benchmarks/failure_text.py benchmarks/results/candidates-full
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from healer.llm.accounting import estimate_tokens
from healer.models import Round
from healer.pipeline.failures import format_failures


def sizes(folders: list[Path]) -> list[int]:
    """Estimated tokens of each failing round's failures, over the reports in `folders`."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            try:
                rounds = [Round.model_validate(r) for r in json.loads(path.read_text())["rounds"]]
            except (ValueError, KeyError, TypeError):
                continue  # not a build's report (a results table, say)
            found += [estimate_tokens(format_failures(r.failures)) for r in rounds if r.failures]
    return found


def main(argv: list[str]) -> int:
    found = sizes([Path(a) for a in argv] or [Path("benchmarks/results")])
    if not found:
        print("no failing round in the reports given")
        return 1
    print(f"{len(found)} failing rounds: failures take {sum(found)} tokens in all, "
          f"median {statistics.median(found):.0f} per round (max {max(found)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
