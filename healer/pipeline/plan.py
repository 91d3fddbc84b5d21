"""Stage 1: the shared dependencies every file must agree on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from healer.errors import ModelOutputError
from healer.models import Plan, Spec
from healer.pipeline.messages import chat
from healer.spec import prompt_text

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

STAGE = "plan"


def make_plan(llm: LLMClient, spec: Spec) -> Plan:
    keep_note = ""
    if spec.keep:
        keep_note = "\nThese files already exist and must not be planned as new: " + ", ".join(spec.keep)
    answer = llm.complete(chat("plan", spec=prompt_text(spec), keep_note=keep_note), stage=STAGE)
    text = answer.text.strip()
    if not text:
        raise ModelOutputError("the model returned an empty plan")
    return Plan(text=text)

