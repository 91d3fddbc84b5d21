"""Stage 1: the shared dependencies every file must agree on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from healer.errors import ModelOutputError
from healer.llm.accounting import estimate_tokens
from healer.models import Plan, Spec
from healer.pipeline.messages import chat
from healer.prompts import render
from healer.spec import prompt_text

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

STAGE = "plan"
SHORT_MAX_TOKENS = 400  # fifteen lines of names and signatures, with room to spare
# Every call shows the spec beside the plan, so a plan longer than the spec only restates it:
# a spec whose `## Files` section already gave each file's interfaces was copied back whole
# (3,028 tokens, ten minutes of the bundled model). The plan ends at the spec's size.
PLAN_FLOOR = 600


def make_plan(llm: LLMClient, spec: Spec, *, short: bool = False) -> Plan:
    """The plan; `short`: only the one file's interfaces and dependencies (a spec that names
    its only file shares nothing between files), in a few lines."""
    keep_note = ""
    if spec.keep:
        keep_note = "\n" + render("keep_note", names=", ".join(spec.keep)).strip()
    prompt = "plan_short" if short else "plan"
    text = prompt_text(spec)
    answer = llm.complete(chat(prompt, spec=text, keep_note=keep_note), stage=STAGE,
                          at_most=SHORT_MAX_TOKENS if short else plan_limit(text))
    plan = answer.text.strip()
    if not plan:
        raise ModelOutputError("the model returned an empty plan")
    return Plan(text=plan)


def plan_limit(spec_text: str) -> int:
    """The most tokens a whole plan is let run to: about the spec's own size."""
    return max(PLAN_FLOOR, estimate_tokens(spec_text))

