"""The stuck strategy: rewrite an implicated file from the spec and plan, failures in view."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from healer.models import Failure, GeneratedFile, Plan, Spec
from healer.pipeline.answer_size import rewrite_limit, whole_file
from healer.pipeline.context import build_context
from healer.pipeline.debug import protected_note
from healer.pipeline.failures import format_failures
from healer.pipeline.fences import file_from_answer
from healer.pipeline.messages import chat
from healer.pipeline.name_fixes import modules_in
from healer.spec import acceptance_files, prompt_text

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

STAGE = "regenerate"


def regenerate_file(
    llm: LLMClient,
    root: Path,
    spec: Spec,
    plan: Plan,
    path: str,
    failures: list[Failure],
    *,
    protected: list[str],
    budget_tokens: int,
    temperature: float | None = None,
) -> GeneratedFile:
    # the file's current version is left out: a small model shown it tends to send it back
    # (and the acceptance tests: the spec shows them in full)
    context = build_context(root, failures, budget_tokens=budget_tokens, plan_text=plan.text,
                            exclude=[path, *acceptance_files(spec)])
    messages = chat(
        "regenerate", spec=prompt_text(spec), plan=plan.text,
        codebase=context.text or f"(none: besides the tests the spec shows, `{path}` is its only file)\n",
        failures=format_failures(failures), path=path, protected_note=protected_note(protected),
    )
    current = root / path
    today = current.read_text(encoding="utf-8", errors="replace") if current.is_file() else ""
    answer = llm.complete(messages, stage=STAGE, temperature=temperature,
                          at_most=rewrite_limit(today))
    return file_from_answer(whole_file(answer, path), path, modules_in(root))
