"""Stage 3: one call per file, all files in parallel (bounded by the client's concurrency).

A file whose answer runs on past what a repair prompt can show whole, or loops, is sampled
once more with another seed (not at temperature 0, where it would be the same answer, nor
when the build's budget cut it); if that one runs on too, what it wrote is the file, for the
checks to judge and the repair rounds to mend.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from healer.llm.answers import LOOPED
from healer.models import Completion, FileList, GeneratedFile, Plan, Spec
from healer.parallel import bounded_map
from healer.pipeline.answer_size import new_file_limit
from healer.pipeline.fences import file_from_answer
from healer.pipeline.messages import chat
from healer.pipeline.name_fixes import local_modules
from healer.spec import prompt_text

if TYPE_CHECKING:
    from healer.llm.client import LLMClient

log = logging.getLogger(__name__)

STAGE = "generate"
RESAMPLE_SEED = 7919  # added to the seed of a file that ran on, for its one new sample
OnFile = Callable[[GeneratedFile], None]


@dataclass(frozen=True)
class Sampling:
    """How one candidate is sampled: temperature and seed (None: the settings'), and a hint
    added after the task, so that the prompt's prefix stays the same for every candidate."""

    temperature: float | None = None
    seed: int | None = None
    hint: str = ""


def generate_files(
    llm: LLMClient,
    spec: Spec,
    plan: Plan,
    file_list: FileList,
    *,
    only: list[str] | None = None,
    existing: dict[str, str] | None = None,
    workers: int = 8,
    on_file: OnFile | None = None,
    sampling: Sampling | None = None,
    stop: threading.Event | None = None,
) -> list[GeneratedFile]:
    """Generate every planned file (or the `only` ones); results keep the file list's order.
    Setting `stop` cancels the calls not yet answered (CancelledError)."""
    targets = [f.path for f in file_list.files if only is None or f.path in only]

    def one(path: str) -> GeneratedFile:
        result = generate_file(llm, spec, plan, file_list, path, existing=existing,
                               sampling=sampling, stop=stop)
        if on_file:
            on_file(result)
        return result

    return bounded_map(one, targets, workers)


def generate_file(
    llm: LLMClient,
    spec: Spec,
    plan: Plan,
    file_list: FileList,
    path: str,
    *,
    existing: dict[str, str] | None = None,
    sampling: Sampling | None = None,
    stop: threading.Event | None = None,
) -> GeneratedFile:
    sampling = sampling or Sampling()
    file_spec = spec.file_specs.get(path, "")
    if file_spec:
        file_spec = f"\n# Spec of `{path}`\n{file_spec.strip()}\n"
    current = (existing or {}).get(path)
    existing_note = f"\n# Current `{path}` (replace it)\n```\n{current}\n```\n" if current else ""
    files = "\n".join(f"- `{f.path}`: {f.purpose}" for f in file_list.files)
    messages = chat("generate", spec=prompt_text(spec), plan=plan.text, files=files,
                    file_spec=file_spec, existing=existing_note, path=path)
    if sampling.hint:
        messages[-1]["content"] += f"\n{sampling.hint}\n"
    limit = new_file_limit(llm.settings.context_budget())
    answer = llm.complete(messages, stage=STAGE, temperature=sampling.temperature,
                          seed=sampling.seed, stop=stop, at_most=limit)
    if _rambled(answer, limit) and _temperature(llm, sampling) > 0:  # one new sample
        log.info("%s: the answer ran on past %d tokens; sampling it again", path, limit)
        answer = llm.complete(messages, stage=STAGE, temperature=sampling.temperature,
                              seed=(sampling.seed or 0) + RESAMPLE_SEED, stop=stop,
                              at_most=limit)
    return file_from_answer(answer.text, path, local_modules(file_list.paths))


def _rambled(answer: Completion, limit: int) -> bool:
    """Whether the answer looped, or ran to the file's own limit (not to the build's budget,
    which a second sample could not pay for)."""
    return answer.finish_reason == LOOPED or (
        answer.finish_reason == "length" and answer.usage.completion_tokens >= limit)


def _temperature(llm: LLMClient, sampling: Sampling) -> float:
    """The sampling temperature of the call: at 0 a second sample is the same answer."""
    return llm.settings.temperature if sampling.temperature is None else sampling.temperature
