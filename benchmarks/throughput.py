"""Aggregate speed of the bundled model for 1, 2, 4 and 8 sequences at once on this machine,
to choose how many candidates (and server slots) a round of the bundled model should have.

One server with 8 slots (healer's settings: 2 threads, no speculative decoding, so that the
figures are of plain decoding). For each N, N generate calls of the same Exercism spec are
sent at once, each its own candidate (the same prompt prefix, temperature 0.8, its own seed):
the prefix is processed once and shared, as healer's candidates share theirs. Printed per N:
wall seconds, prompt tokens evaluated (from the server's timings), tokens written, and the
aggregate writing speed (tokens written by all N / wall seconds).

    python -m benchmarks throughput [--exercise clock] [--out FILE]
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from pathlib import Path

import openai

from healer.config import load_settings
from healer.llm.local_server import MODEL_ALIAS, ServerOptions, build_params
from healer.llm.weights import ensure_model
from healer.pipeline.messages import chat

COUNTS = (1, 2, 4, 8)
WRITE = 256  # tokens each sequence writes
SLOT_CTX = 4096


@dataclass(frozen=True)
class Row:
    sequences: int
    seconds: float
    evaluated: int
    written: int

    @property
    def speed(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0


def _one(client: openai.OpenAI, messages: list[dict[str, str]], seed: int) -> tuple[int, int]:
    answer = client.chat.completions.create(model=MODEL_ALIAS, messages=messages,
                                            max_tokens=WRITE, temperature=0.8, seed=seed)
    timings = (answer.model_extra or {}).get("timings") or {}
    return int(timings.get("prompt_n", 0)), answer.usage.completion_tokens


def measure(spec: str, model: Path) -> list[Row]:
    import xllamacpp

    params = build_params(ServerOptions(model=model, port=0, parallel=max(COUNTS),
                                        ctx_per_slot=SLOT_CTX, speculative="none"))
    server = xllamacpp.Server(params)
    try:
        client = openai.OpenAI(base_url=f"{server.listening_address}/v1", api_key="x",
                               timeout=3600)
        messages = chat("generate", spec=spec, plan="(see the spec)", files="- `solution.py`",
                        file_spec="", existing="", path="solution.py")
        _one(client, messages, 0)  # the shared prefix in the cache, as after a round's first call
        rows = []
        for count in COUNTS:
            started = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(count) as pool:
                done = list(pool.map(lambda seed: _one(client, messages, seed),
                                     range(1, count + 1)))
            rows.append(Row(count, time.monotonic() - started, sum(e for e, _ in done),
                            sum(w for _, w in done)))
            print(f"{count} at once: {rows[-1].seconds:.1f} s, {rows[-1].speed:.1f} tokens/s",
                  flush=True)
        return rows
    finally:
        del server


def table(rows: list[Row]) -> str:
    one = rows[0].speed or 1.0
    lines = [("| sequences at once | wall s | prompt tokens evaluated | tokens written | "
              "tokens/s (all) | against one |"), "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.sequences} | {r.seconds:.1f} | {r.evaluated} | {r.written} | "
              f"{r.speed:.1f} | x{r.speed / one:.2f} |" for r in rows]
    return "\n".join(lines)


def main(exercise_dir: Path, out: Path, command: str) -> str:
    settings = load_settings(None)
    model = ensure_model(settings)
    spec = (exercise_dir / "instructions.md").read_text(encoding="utf-8")
    rows = measure(spec, model)
    text = (f"# Bundled model: sequences at once\n\n```\n{command}\n```\n\n{table(rows)}\n")
    out.write_text(text)
    return text
