"""Stage 1: the shared dependencies every file must agree on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from healer.errors import ModelOutputError
from healer.models import Plan, Spec
from healer.pipeline.messages import chat
from healer.prompts import render
from healer.spec import prompt_text

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

STAGE = "plan"
SHORT_MAX_TOKENS = 400  # fifteen lines of names and signatures, with room to spare


def make_plan(llm: LLMClient, spec: Spec, *, short: bool = False) -> Plan:
    """The plan; `short`: only the one file's interfaces and dependencies (a spec that names
    its only file shares nothing between files), in a few lines."""
    keep_note = ""
    if spec.keep:
        keep_note = "\n" + render("keep_note", names=", ".join(spec.keep)).strip()
    prompt = "plan_short" if short else "plan"
    answer = llm.complete(chat(prompt, spec=prompt_text(spec), keep_note=keep_note), stage=STAGE,
                          at_most=SHORT_MAX_TOKENS if short else None)
    text = answer.text.strip()
    if not text:
        raise ModelOutputError("the model returned an empty plan")
    return Plan(text=text)

