"""What a repair round of several candidates tries: how many repair the best code so far,
how many write it anew, and whether one merges two versions that pass different tests."""

from __future__ import annotations

from healer.models import Round
from healer.strategies.combine import pair


def portfolio(count: int, base: Round, rounds: list[Round], *, combine: bool = False) -> list[str]:
    """How a repair round's `count` candidates, made from `base`, split between `repair`,
    `fresh` and `combine`, after `rounds`.

    Repairs that helped no test (none passed more tests than the code it started from, or
    each changed nothing, or brought back code already checked): all fresh, once two were
    tried, or one unless exactly one acceptance test is left (more left, none left with
    other checks failing, or no acceptance tests). Otherwise, one acceptance test left: half of
    them repair it; else one repair, the rest fresh (for a small model a fresh sample is
    worth more than a repair). With `combine` and two candidates or more, when a version of
    this build passes a test `base` fails, the last candidate merges the two instead."""
    gains = [c.gain or 0 for r in rounds for c in r.candidates
             if c.strategy == "repair" and c.status == "checked"]
    gains += [0 for r in rounds for c in r.candidates
              if "repair" in c.tried or (c.strategy == "repair" and c.status == "duplicate")]
    acceptance = base.acceptance
    left = None
    if acceptance is not None and acceptance.tests_total is not None:
        left = acceptance.tests_total - (acceptance.tests_passed or 0)
    futile = bool(gains) and all(g <= 0 for g in gains)
    if futile and (len(gains) >= 2 or left != 1):
        repairs = 0
    elif left == 1:
        repairs = max(1, count // 2)
    else:
        repairs = 1
    split = ["repair"] * repairs + ["fresh"] * (count - repairs)
    if combine and count > 1 and pair(base, rounds) is not None:
        split[-1] = "combine"
    return split
