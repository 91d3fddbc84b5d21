"""Which settings of the bundled llama.cpp server make a build's calls cheaper on this machine.

Each configuration gets a fresh server (healer's settings without speculative decoding, then
the change named) and the same three steps, shaped like a build's calls
(healer's own prompts, an Exercism spec with its tests):

1. `plan`: the spec and the plan task;
2. `generate x2`: two calls at once that share the spec and differ in their task, so they land
   on the server's two slots: does the second slot reuse what the first processed? (Or one
   after the other, on one slot.)
3. `rewrite`: the debugger's whole-file repair of a 60-line module with one bug: the answer
   mostly copies the file the prompt holds, which n-gram speculative decoding can exploit.

Answers use temperature 0 and a fixed seed. Printed per step: prompt tokens, those served
from the cache, wall seconds, tokens written and the speed of writing them, and for
speculative decoding the draft tokens accepted. The speculative configurations run only the
rewrite, twice (the second finds its prompt cached).

    python -m benchmarks server-settings [--exercise clock] [--out FILE]
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

from healer.config import load_settings
from healer.llm.local_server import MODEL_ALIAS, ServerOptions, build_params
from healer.llm.weights import ensure_model
from healer.pipeline.messages import chat

WHOLE_FILE_MAX_TOKENS = 700
BUGGY_CLOCK = '''"""A clock that handles times without dates."""

MINUTES_PER_DAY = 24 * 60


class Clock:
    """Hours and minutes on a 24-hour clock; equal clocks show the same time."""

    def __init__(self, hour, minute):
        total = (hour * 60 + minute) % MINUTES_PER_DAY
        self.hour = total // 60
        self.minute = total % 60

    def __repr__(self):
        return f"Clock({self.hour}, {self.minute})"

    def __str__(self):
        return f"{self.hour:02d}:{self.minute:02d}"

    def __eq__(self, other):
        if not isinstance(other, Clock):
            return NotImplemented
        return (self.hour, self.minute) == (other.hour, other.minute)

    def __hash__(self):
        return hash((self.hour, self.minute))

    def __add__(self, minutes):
        return Clock(self.hour, self.minute + minutes)

    def __sub__(self, minutes):
        return Clock(self.hour, self.minute + minutes)

    def minutes_since_midnight(self):
        return self.hour * 60 + self.minute

    @classmethod
    def from_minutes(cls, minutes):
        return cls(0, minutes)

    def is_morning(self):
        return self.hour < 12

    def is_evening(self):
        return self.hour >= 18

    def rounded(self, step):
        total = self.minutes_since_midnight()
        return Clock(0, round(total / step) * step)
'''
FAILURE = """clock_test.py::ClockTest::test_subtract_minutes FAILED
    self.assertEqual(str(Clock(10, 3) - 3), "10:00")
AssertionError: '10:06' != '10:00'"""


@dataclasses.dataclass(frozen=True)
class Config:
    name: str
    change: Callable[[Any], None]
    one_at_a_time: bool = False  # the two generate calls sent one after the other
    rewrite_only: bool = False  # only the rewrite step, twice (its speed is what changes)


def _speculative(kind: str) -> Callable[[Any], None]:
    def change(params: Any) -> None:
        import xllamacpp

        params.speculative.types = [getattr(xllamacpp.common_speculative_type,
                                            f"COMMON_SPECULATIVE_TYPE_{kind}")]
    return change


def _set(**values: Any) -> Callable[[Any], None]:
    def change(params: Any) -> None:
        for key, value in values.items():
            setattr(params, key, value)
    return change


CONFIGS = (
    Config("2 slots, 1 GiB prompt cache in RAM", _set()),
    Config("no prompt cache in RAM", _set(cache_ram_mib=0)),
    Config("n_cache_reuse 256", _set(n_cache_reuse=256)),
    Config("calls one at a time", _set(), one_at_a_time=True),
    Config("no speculative decoding", _set(), rewrite_only=True),
    Config("speculative: ngram-simple", _speculative("NGRAM_SIMPLE"), rewrite_only=True),
    Config("speculative: ngram-map-k", _speculative("NGRAM_MAP_K"), rewrite_only=True),
    Config("speculative: ngram-mod", _speculative("NGRAM_MOD"), rewrite_only=True),
)


@dataclasses.dataclass
class Step:
    name: str
    prompt: int
    cached: int
    seconds: float
    written: int
    writing_speed: float  # tokens per second while writing (llama.cpp's predicted_per_second)
    drafted: str = "-"  # speculative decoding: draft tokens accepted / proposed


def _spec(exercise: Path) -> str:
    stub = next(p for p in exercise.glob("*.py") if not p.name.endswith("_test.py"))
    tests = next(exercise.glob("*_test.py"))
    return (f"{(exercise / 'instructions.md').read_text()}\n\nWrite the module `{stub.name}`:\n"
            f"```python\n{stub.read_text()}```\n\n## Acceptance tests\n`{tests.name}`:\n"
            f"```python\n{tests.read_text()}```\n")


def _ask(client: openai.OpenAI, name: str, messages: list[dict[str, str]],
         max_tokens: int) -> Step:
    started = time.monotonic()
    answer = client.chat.completions.create(
        model=MODEL_ALIAS, messages=messages, max_tokens=max_tokens, temperature=0.0, seed=1)
    seconds = time.monotonic() - started
    timings = (answer.model_extra or {}).get("timings") or {}
    usage = answer.usage
    drafted = (f"{timings['draft_n_accepted']}/{timings['draft_n']}"
               if timings.get("draft_n") else "-")
    return Step(name, usage.prompt_tokens, int(timings.get("cache_n", 0)), seconds,
                usage.completion_tokens, float(timings.get("predicted_per_second", 0.0)), drafted)


def run_config(config: Config, spec: str, model: Path) -> list[Step]:
    import xllamacpp

    params = build_params(ServerOptions(model=model, port=0, speculative="none"))
    config.change(params)
    server = xllamacpp.Server(params)
    try:
        client = openai.OpenAI(base_url=f"{server.listening_address}/v1", api_key="x",
                               timeout=1800)
        rewrite = chat("regenerate", spec=spec, plan="(see the spec)",
                       codebase=f"clock.py\n```python\n{BUGGY_CLOCK}```", failures=FAILURE,
                       path="clock.py", protected_note="")
        if config.rewrite_only:
            return [_ask(client, "rewrite", rewrite, WHOLE_FILE_MAX_TOKENS) for _ in range(2)]
        steps = [_ask(client, "plan", chat("plan", spec=spec, keep_note=""), 200)]
        asks = [chat("generate", spec=spec, plan="(see the spec)", files=f"- `{name}`",
                     file_spec="", existing="", path=name)
                for name in ("clock.py", "clock_helpers.py")]
        with concurrent.futures.ThreadPoolExecutor(1 if config.one_at_a_time else 2) as pool:
            steps += pool.map(lambda m: _ask(client, "generate x2", m, 120), asks)
        steps.append(_ask(client, "rewrite", rewrite, WHOLE_FILE_MAX_TOKENS))
        return steps
    finally:
        del server


def table(results: dict[str, list[Step]]) -> str:
    lines = [("| configuration | step | prompt tokens | cached | wall s | written "
             "| writing tokens/s | drafts accepted |"),
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, steps in results.items():
        for step in steps:
            lines.append(f"| {name} | {step.name} | {step.prompt} | {step.cached} | "
                         f"{step.seconds:.1f} | {step.written} | {step.writing_speed:.1f} "
                         f"| {step.drafted} |")
    return "\n".join(lines)


def main(exercise: Path, out: Path, only: list[str] | None = None) -> str:
    model = ensure_model(load_settings(None))
    spec = _spec(exercise)
    results: dict[str, list[Step]] = {}
    for config in CONFIGS:
        if only and not any(o in config.name for o in only):
            continue
        results[config.name] = run_config(config, spec, model)
        print(table({config.name: results[config.name]}), flush=True)
    text = (f"# Bundled server settings\n\n```\npython -m benchmarks server-settings "
            f"--exercise {exercise.name}\n```\n\n{table(results)}\n")
    out.write_text(text)
    return text
