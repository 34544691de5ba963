"""What ``rankrl eval`` writes besides the run: ``metrics.json``, ``report.md`` and the per-domain bar chart."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rankrl.core.atomic import atomic_open, atomic_write_text
from rankrl.eval.compare import PairedDifference, compare_evaluations
from rankrl.eval.runner import BenchmarkResult

HEADLINE = "nDCG@10"


def vs_first_stage(result: BenchmarkResult) -> dict[str, PairedDifference] | None:
    """Each metric's paired difference reranked - first stage over the same queries (None without a first stage)."""
    if result.first_stage_evaluation is None:
        return None
    comparison = compare_evaluations({"first stage": result.first_stage_evaluation, "reranked": result.evaluation})
    return comparison.differences["reranked"]


def describe_difference(d: PairedDifference) -> str:
    """``+0.0123 ± 0.0045 (p = 0.012; 20 wins, 5 ties, 18 losses)``: one line for a summary."""
    se = "n/a" if math.isnan(d.stderr) else f"{d.stderr:.4f}"
    p = "n/a" if math.isnan(d.p_value) else ("< 0.001" if d.p_value < 0.001 else f"= {d.p_value:.3f}")
    return f"{d.mean:+.4f} ± {se} (p {p}; {d.wins} wins, {d.ties} ties, {d.losses} losses)"


def _difference_json(diffs: dict[str, PairedDifference] | None) -> dict[str, Any] | None:
    if diffs is None:
        return None
    return {m: {"diff": d.mean, "stderr": None if math.isnan(d.stderr) else d.stderr,
                "p_value": None if math.isnan(d.p_value) else d.p_value,
                "wins": d.wins, "ties": d.ties, "losses": d.losses} for m, d in diffs.items()}


def candidate_depth(result: BenchmarkResult) -> int:
    """The most candidates any query of this run actually had reranked (at most ``top_k``)."""
    return max((len(m.order) for m in result.merged.values()), default=0)


def benchmark_metrics(result: BenchmarkResult, settings: dict[str, Any]) -> dict[str, Any]:
    """``metrics.json`` of one benchmark: the headline at top level, every mean, per-query values, cost."""
    ev = result.evaluation
    data: dict[str, Any] = {
        HEADLINE: ev.mean.get(HEADLINE),
        "benchmark": result.name,
        "num_queries": ev.num_queries,
        "metrics": ev.mean,
        "first_stage": result.first_stage_evaluation.mean if result.first_stage_evaluation else None,
        "vs_first_stage": _difference_json(vs_first_stage(result)),
        "per_query": ev.per_query,
        "missing": ev.missing,
        "rel_level": result.rel_level,
        "cost": cost_summary(result),
        "settings": settings,
    }
    return data


def combined_metrics(results: Sequence[BenchmarkResult], settings: dict[str, Any]) -> dict[str, Any]:
    """``metrics.json`` of a multi-benchmark run (BRIGHT): the plain mean over domains at top level."""
    names = list(results[0].evaluation.mean)
    average = {m: sum(r.evaluation.mean[m] for r in results) / len(results) for m in names}
    first = [r.first_stage_evaluation for r in results]
    first_avg = ({m: sum(f.mean[m] for f in first) / len(first) for m in names}  # type: ignore[union-attr]
                 if all(f is not None for f in first) else None)
    return {
        HEADLINE: average.get(HEADLINE),
        "benchmarks": [r.name for r in results],
        "average": average,
        "first_stage_average": first_avg,
        "domains": {r.name: {HEADLINE: r.evaluation.mean.get(HEADLINE), "metrics": r.evaluation.mean,
                             "first_stage": r.first_stage_evaluation.mean if r.first_stage_evaluation else None,
                             "vs_first_stage": _difference_json(vs_first_stage(r)),
                             "num_queries": r.evaluation.num_queries, "per_query": r.evaluation.per_query,
                             "missing": r.evaluation.missing, "rel_level": r.rel_level,
                             "cost": cost_summary(r)}
                    for r in results},
        "settings": settings,
    }


def cost_summary(result: BenchmarkResult) -> dict[str, Any]:
    stats = result.stats
    n = max(len(stats.per_query), 1)
    data = stats.to_json()
    data.update({
        "queries_reranked": len(stats.per_query),
        "llm_calls_per_query": stats.prompts / n,
        "prompt_tokens_per_query": stats.prompt_tokens / n,
        "completion_tokens_per_query": stats.completion_tokens / n,
        "passages_shown_per_query": sum(c.passages_shown for c in stats.per_query.values()) / n,
    })
    return data


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_traces(path: Path, traces: Sequence[dict[str, Any]]) -> None:
    with atomic_open(path, "w") as handle:
        for record in traces:
            handle.write(json.dumps(record, ensure_ascii=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return sorted(value) if isinstance(value, set) else list(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_report(results: Sequence[BenchmarkResult], settings: dict[str, Any], wall_seconds: float,
                  chart: str | None = None) -> str:
    """``report.md``: metrics per benchmark (and the average), cost per query, failures, time, settings."""
    metrics = list(results[0].evaluation.mean)
    lines = ["# rankrl eval report", ""]
    lines += [f"- model: `{settings.get('model')}`" + (f" (adapter `{settings['adapter']}`)"
                                                      if settings.get("adapter") else ""),
              f"- paradigm: {settings.get('paradigm')} (template {settings.get('template')})",
              f"- strategy: {_describe_strategy(settings)}",
              f"- backend: {settings.get('backend')}; sampling: {_describe_sampling(settings.get('sampling', {}))}",
              f"- candidates: {_describe_candidates(results, settings.get('top_k'))}; "
              f"repeats: {settings.get('repeats')}"
              + (f" (merged by {settings.get('merge')})" if settings.get("repeats", 1) > 1 else ""),
              f"- fusion: {_describe_fusion(settings)}",
              f"- wall time: {wall_seconds:.1f} s", ""]
    lines += ["## Metrics", ""]
    header = ["benchmark", "queries", *metrics, f"first stage {HEADLINE}"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in results:
        first = r.first_stage_evaluation.mean.get(HEADLINE) if r.first_stage_evaluation else None
        lines.append("| " + " | ".join([_md_cell(r.name), str(r.evaluation.num_queries),
                                        *[_fmt(r.evaluation.mean[m]) for m in metrics], _fmt(first)]) + " |")
    if len(results) > 1:
        avg = {m: sum(r.evaluation.mean[m] for r in results) / len(results) for m in metrics}
        firsts = [r.first_stage_evaluation.mean.get(HEADLINE) for r in results if r.first_stage_evaluation]
        first_avg = sum(firsts) / len(firsts) if len(firsts) == len(results) else None
        lines.append("| " + " | ".join(["**average**", str(sum(r.evaluation.num_queries for r in results)),
                                        *[f"**{_fmt(avg[m])}**" for m in metrics], _fmt(first_avg)]) + " |")
    lines.append("")
    rel = sorted({r.rel_level for r in results})
    lines.append(f"Binary measures (RR, R, AP) count grade >= {', '.join(map(str, rel))} as relevant; nDCG uses "
                 "the raw grades (pytrec_eval, trec_eval semantics)."
                 + (" BRIGHT's excluded_ids are removed before scoring." if any(r.name.startswith("bright")
                                                                             for r in results) else ""))
    lines.append("")
    diffs = [(r.name, vs_first_stage(r)) for r in results]
    if any(d is not None for _, d in diffs):
        lines += ["## Against the first stage", "",
                  (f"Paired over the same queries: reranked - first stage, ± standard error, two-sided paired "
                   f"t-test p-value, per-query wins/ties/losses ({HEADLINE} and AP)."), ""]
        shown = [m for m in (HEADLINE, "AP") if m in metrics] or metrics[:1]
        lines.append("| benchmark | metric | difference |")
        lines.append("|---|---|---|")
        for name, d in diffs:
            if d is not None:
                lines += [f"| {_md_cell(name)} | {m} | {describe_difference(d[m])} |" for m in shown]
        lines.append("")
    if chart:
        lines += [f"![{HEADLINE} by benchmark]({chart})", ""]
    lines += ["## Cost", ""]
    header = ["benchmark", "LLM calls", "generated", "cached", "duplicates", "backend calls", "rounds",
              "calls / query",
              "passages shown / query", "prompt tokens / query", "completion tokens / query",
              "parse failures", "backend time (s)", "wall time (s)"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in results:
        c = cost_summary(r)
        lines.append("| " + " | ".join([
            _md_cell(r.name), str(c["prompts"]), str(c["generated"]), str(c["cached"]), str(c["shared"]),
            str(c["backend_calls"]), str(c["rounds"]), f"{c['llm_calls_per_query']:.1f}",
            f"{c['passages_shown_per_query']:.1f}", f"{c['prompt_tokens_per_query']:.0f}",
            f"{c['completion_tokens_per_query']:.0f}",
            f"{c['parse_failures']} ({100 * c['parse_failure_rate']:.1f}%)", f"{c['backend_seconds']:.1f}",
            f"{c['wall_seconds']:.1f}"]) + " |")
    lines += ["", ("LLM calls count every prompt answered: generated now, read from the completion cache (an identical "
              "prompt answered earlier in this run, e.g. a window bubble sort asks again, or by an interrupted run), "
              "or a duplicate of an identical prompt of the same round (generated once). Token counts include all "
              "three. A failed parse falls back deterministically (the window keeps its order; "
              "the current best stays; an unscored passage gets the mean of its query's scores)."), ""]
    lines += ["## Settings", "", "```json", json.dumps(settings, indent=2, default=_json_default), "```", ""]
    return "\n".join(lines)


def _describe_candidates(results: Sequence[BenchmarkResult], top_k: Any) -> str:
    """"first-stage top 100", or what the data really gave when fewer candidates existed (10 of a requested 100)."""
    depth = max((candidate_depth(r) for r in results), default=0)
    if isinstance(top_k, int) and 0 < depth < top_k:
        return f"first-stage top {depth} (top_k {top_k}; the first stage has only {depth} per query)"
    return f"first-stage top {top_k}"


def _describe_strategy(s: dict[str, Any]) -> str:
    st = s.get("strategy_settings", {})
    name = st.get("strategy", s.get("strategy"))
    rest = ", ".join(f"{k}={v}" for k, v in st.items() if k != "strategy")
    return f"{name} ({rest})" if rest else str(name)


def _describe_sampling(sampling: dict[str, Any]) -> str:
    if not sampling or sampling.get("temperature", 0) <= 0:
        return f"greedy, max_new_tokens={sampling.get('max_new_tokens')}"
    return (f"temperature={sampling.get('temperature')}, top_p={sampling.get('top_p')}, seed={sampling.get('seed')}, "
            f"max_new_tokens={sampling.get('max_new_tokens')}")


def _describe_fusion(s: dict[str, Any]) -> str:
    fusion = s.get("fusion", {})
    if not fusion or fusion.get("method", "none") == "none":
        return "none (reranker order only)"
    w = fusion.get("weight")
    return (f"{fusion['method']} normalisation, {w:g} × reranker + {1 - w:g} × first stage "
            f"(reranker score: {fusion.get('reranker_score')})")


def bar_chart(results: Sequence[BenchmarkResult], path: Path, metric: str = HEADLINE) -> Path:
    """PNG bar chart of ``metric`` per benchmark (reranked next to first stage), with the average."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name.split("/", 1)[-1] for r in results] + ["average"]
    reranked = [r.evaluation.mean[metric] for r in results]
    firsts = [r.first_stage_evaluation.mean[metric] if r.first_stage_evaluation else 0.0 for r in results]
    reranked.append(sum(reranked) / len(reranked))
    firsts.append(sum(firsts) / len(firsts))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(names) + 2), 4.0))
    xs = range(len(names))
    width = 0.4
    ax.bar([x - width / 2 for x in xs], firsts, width, label="first stage", color="#bbbbbb")
    ax.bar([x + width / 2 for x in xs], reranked, width, label="reranked", color="#3b6fb6")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=40, ha="right")
    ax.set_ylabel(metric)
    ax.set_ylim(0, max(max(reranked), max(firsts), 0.01) * 1.15)
    ax.legend()
    ax.set_title(f"{metric} by benchmark")
    fig.tight_layout()
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120)
    plt.close(fig)
    return path
