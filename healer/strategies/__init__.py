"""What a round does, and what healer does when it is stuck.

- One candidate per round (`candidates = 1`): `chain.py`, repair, then regenerate when a
  repair changed nothing or the same failures came back, then a narrower, hotter repair.
- N candidates per round (`--candidates N`): `candidates.py`; round 0 is N samples of the
  implementation, and every repair round a portfolio of repairs and fresh samples from the
  best round so far, split by what worked in this build (`portfolio.py`); with `combine`,
  one of them merges two versions that pass different acceptance tests (`combine.py`).

The loop only sequences rounds and budgets; it asks `next_in_chain` or `portfolio` what to do.
"""

from healer.strategies.candidates import FirstRound, RepairRound
from healer.strategies.chain import Chain, main_files, next_in_chain
from healer.strategies.journal import unfinished_search
from healer.strategies.portfolio import portfolio
from healer.strategies.variety import Seen

__all__ = ["Chain", "FirstRound", "RepairRound", "Seen", "main_files", "next_in_chain",
           "portfolio", "unfinished_search"]
