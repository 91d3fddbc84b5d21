"""What a repair round of several candidates tries: how many repair the best code so far,
how many write it anew, and whether one merges two versions that pass different tests."""

from __future__ import annotations

from healer.models import Round
from healer.strategies.combine import pair


def portfolio(count: int, base: Round, rounds: list[Round], *, combine: bool = False) -> list[str]:
    """How a repair round's `count` candidates, made from `base`, split between `repair`,
    `fresh` and `combine`, after `rounds`.

    One acceptance test left: half of them repair it. Repairs tried in this build and none
    passed more tests than the code it started from: all fresh. Otherwise one repair, the
    rest fresh (for a small model a fresh sample is worth more than a repair). A repair
    that changed nothing counts as one that helped no test. With `combine`
    and two candidates or more, when a version of this build passes a test `base` fails, the
    last candidate merges the two instead."""
    # a repair that changed nothing (and was written fresh instead) helped no test
    gains = [c.gain or 0 for r in rounds for c in r.candidates
             if c.strategy == "repair" and c.status == "checked"]
    gains += [0 for r in rounds for c in r.candidates if "repair" in c.tried]
    acceptance = base.acceptance
    left = None
    if acceptance is not None and acceptance.tests_total is not None:
        left = acceptance.tests_total - (acceptance.tests_passed or 0)
    if left == 1:
        repairs = max(1, count // 2)
    elif gains and all(g <= 0 for g in gains):
        repairs = 0
    else:
        repairs = 1
    split = ["repair"] * repairs + ["fresh"] * (count - repairs)
    if combine and count > 1 and pair(base, rounds) is not None:
        split[-1] = "combine"
    return split
