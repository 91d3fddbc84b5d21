"""`results.md` (a table per spec and a summary) and `pass_rate.png` (pass rate by round)."""

from __future__ import annotations

import statistics
from pathlib import Path

from benchmarks.record import SpecResult, pass_rate_curve

RESULTS_MD = "results.md"
PLOT_PNG = "pass_rate.png"


def _pct(count: int, total: int) -> str:
    return f"{count}/{total} ({100 * count / total:.0f}%)" if total else "0/0"


def _money(cost: float | None) -> str:
    return "-" if cost is None else f"${cost:.4f}"


def _round_green(result: SpecResult, k: int) -> bool:
    return bool(result.green_at) and result.green_at[min(k, len(result.green_at) - 1)]


def first_green(result: SpecResult) -> str:
    return str(result.green_at.index(True)) if True in result.green_at else "-"


def ordered(results: list[SpecResult]) -> list[SpecResult]:
    return sorted(results, key=lambda r: (r.suite, r.difficulty or 0, r.name))


def summary_lines(results: list[SpecResult]) -> list[str]:
    n = len(results)
    rates = pass_rate_curve(results)
    tokens_in = sum(r.prompt_tokens for r in results)
    tokens_out = sum(r.completion_tokens for r in results)
    costs = [r.cost_usd for r in results if r.cost_usd is not None]
    walls = [r.wall_seconds for r in results]
    lines = [f"- specs: {n}; crashed: {sum(r.status == 'crash' for r in results)}"]
    for k, _ in enumerate(rates):
        label = "pass@round0 (one-shot)" if k == 0 else f"pass@round{k}"
        lines.append(f"- {label}: {_pct(sum(_round_green(r, k) for r in results), n)}")
    lines.append(f"- pass@final: {_pct(sum(r.green for r in results), n)}")
    cached = sum(r.prompt_cached_tokens for r in results)
    lines.append(f"- tokens: {tokens_in:,} in, {tokens_out:,} out "
                 f"({(tokens_in + tokens_out) // max(n, 1):,} per spec); of the prompt tokens "
                 f"{cached:,} served from the endpoint's cache, {tokens_in - cached:,} evaluated")
    lines.append(f"- estimated cost: {_money(sum(costs)) if costs else '- (no price known: local model)'}")
    if walls:
        lines.append(
            f"- wall time per spec: median {statistics.median(walls):.0f} s, "
            f"total {sum(walls) / 60:.1f} min (builds overlap when workers > 1)")
        lines.append(
            "- time split, all specs: model "
            f"{sum(r.model_seconds for r in results) / 60:.1f} min, sandbox "
            f"{sum(r.sandbox_seconds for r in results) / 60:.1f} min, healer overhead "
            f"{sum(r.overhead_seconds for r in results) / 60:.1f} min")
    lines += _code_lines(results)
    return lines


def _code_lines(results: list[SpecResult]) -> list[str]:
    """Which healer commit built which specs, when a run spans several."""
    built: dict[str, list[str]] = {}
    for r in ordered(results):
        built.setdefault(r.code or "not recorded", []).append(r.name)
    if list(built) == ["not recorded"]:
        return []
    return [f"- built by healer {code}: {', '.join(names)}" for code, names in built.items()]


def table_lines(results: list[SpecResult]) -> list[str]:
    lines = [
        ("| spec | suite | diff. | status | green@0 | first green | rounds | tokens in/out "
        "| cost | wall s | model s | sandbox s | overhead s | stop / error |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in ordered(results):
        why = (r.error or r.stop_reason).replace("|", "/").replace("\n", " ")[:120]
        lines.append(
            f"| {r.name} | {r.suite} | {r.difficulty if r.difficulty is not None else '-'} "
            f"| {r.status} | {'yes' if _round_green(r, 0) else 'no'} | {first_green(r)} "
            f"| {r.rounds_used} | {r.prompt_tokens:,}/{r.completion_tokens:,} "
            f"| {_money(r.cost_usd)} | {r.wall_seconds:.0f} | {r.model_seconds:.0f} "
            f"| {r.sandbox_seconds:.0f} | {r.overhead_seconds:.0f} | {why} |")
    return lines


def _invocation_lines(invocations: list[str]) -> list[str]:
    if len(invocations) < 2:
        return []
    return ["Commands run into this folder, in order:", "", "```", *invocations, "```", ""]


def render_markdown(results: list[SpecResult], meta: dict) -> str:
    planned = meta.get("planned", [])
    missing = [name for name in planned if name not in {r.name for r in results}]
    title = f"# Benchmark run `{meta.get('run', '?')}`"
    lines = [title, ""]
    lines += [f"Note: {note}" for note in meta.get("notes", [])]
    lines += [""] if meta.get("notes") else []
    if missing:
        lines += [(f"**PARTIAL RESULTS: {len(results)} of {len(planned)} planned specs.** "
                  f"Not yet built: {', '.join(missing)}. Re-running the command below resumes "
                  "the run and builds only these."), ""]
    lines += [
        (f"Model: `{meta.get('model', '?')}`; endpoint: {meta.get('endpoint', '?')}; "
        f"repair rounds at most: {meta.get('max_iters', '?')}; workers: {meta.get('workers', '?')}; "
        f"machine: {meta.get('machine', '?')}."),
        "",
        "Reproduce (resumes; add `--force` to rebuild every spec):",
        "",
        "```",
        meta.get("command", ""),
        "```",
        "",
        *_invocation_lines(meta.get("invocations", [])),
        "## Summary",
        "",
        *summary_lines(results),
        "",
        f"![pass rate by round]({PLOT_PNG})",
        "",
        "## Per spec",
        "",
        ("`green@0`: green after one-shot generation. `first green`: the round that was first "
        "green (0 is the generation). `model s` sums the durations of the calls, which overlap "
        "when files are generated in parallel; `overhead s` is the wall time left after model "
        "and sandbox time (never below zero)."),
        "",
        *table_lines(results),
    ]
    skipped = meta.get("skipped", [])
    if skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- {s['name']}: {s['reason']}" for s in skipped]
    return "\n".join(lines) + "\n"


def plot_pass_rate(results: list[SpecResult], path: Path, title: str) -> bool:
    """Pass rate against round; returns False (and draws nothing) without matplotlib or
    without a result to draw."""
    return plot_curves({"": pass_rate_curve(results)}, len(results), path, title)


def plot_curves(curves: dict[str, list[float]], specs: int, path: Path, title: str) -> bool:
    """Specs green (a share) against round, one line per label (a lone unlabelled curve gets
    no legend); False, and nothing drawn, without matplotlib or without a point to draw."""
    curves = {label: rates for label, rates in curves.items() if rates}
    if not curves:
        return False
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    rounds = list(range(max(len(rates) for rates in curves.values())))
    for label, rates in curves.items():
        percents = [100 * r for r in rates]
        xs = rounds[:len(percents)]
        ax.plot(xs, percents, marker="o", label=label or None)
        for x, y in zip(xs, percents, strict=True):
            ax.annotate(f"{y:.0f}%", (x, y), textcoords="offset points", xytext=(0, 8),
                        ha="center")
    ax.set_xticks(rounds)
    ax.set_xticklabels(["0\n(one-shot)", *[str(k) for k in rounds[1:]]])
    ax.set_xlabel("repair round")
    ax.set_ylabel(f"specs green (%, n = {specs})")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if any(curves):
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_outputs(folder: Path, results: list[SpecResult], meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RESULTS_MD).write_text(render_markdown(results, meta), encoding="utf-8")
    planned = meta.get("planned", [])
    title = f"healer: {meta.get('run', '')}"
    if len(results) < len(planned):
        title += f" (partial: {len(results)} of {len(planned)} specs)"
    plot_pass_rate(results, folder / PLOT_PNG, title)
