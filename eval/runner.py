"""Rerank one benchmark: candidates -> strategy tasks -> engine -> merged repeats -> fusion -> run -> metrics.

Queries: the judged queries of the benchmark (``max_queries`` keeps the first N in the benchmark's order; the
metrics are then over those N). Candidates: the first-stage top ``top_k``; deeper first-stage documents follow
the reranked ones in their first-stage order, so every first-stage candidate is in the run. Scores in the run are
``n, n-1, …, 1`` in the final order (strictly decreasing). Repeat 0 sees the first-stage order, repeat r > 0 a
shuffle seeded by (seed, qid, r).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.core.fields import FieldError
from rankrl.data.records import Benchmark, Run
from rankrl.eval.backends.base import Backend, Sampling
from rankrl.eval.cache import CompletionCache
from rankrl.eval.engine import Engine, EngineStats, Ranking
from rankrl.eval.fusion import FUSIONS, MERGES, Merged, fuse, merge_repeats
from rankrl.eval.metrics import DEFAULT_METRICS, Evaluation, evaluate
from rankrl.eval.progress import combine
from rankrl.eval.strategies import PromptMaker, Strategy
from rankrl.eval.strategies.base import Fit


@dataclass
class RerankConfig:
    top_k: int = 100
    repeats: int = 1
    merge: str = "auto"
    """mean-rank, mean-score, or auto: mean-score when the strategy gives scores (pointwise, groupwise)."""
    fusion: str = "none"
    fusion_weight: float = 0.5
    seed: int = 0
    max_queries: int | None = None
    metrics: tuple[str, ...] = DEFAULT_METRICS
    rel_level: int | None = None
    """Relevance level of binary measures; None: 2 for TREC DL, 1 otherwise."""

    def validate(self) -> None:
        if self.top_k < 1:
            raise FieldError("top_k", f"must be >= 1, got {self.top_k}")
        if self.repeats < 1:
            raise FieldError("repeats", f"must be >= 1, got {self.repeats}")
        if self.merge not in (*MERGES, "auto"):
            raise FieldError("merge", f"must be one of {', '.join(MERGES)}, got {self.merge!r}")
        if self.fusion not in FUSIONS:
            raise FieldError("fusion", f"must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if not 0.0 <= self.fusion_weight <= 1.0:
            raise FieldError("fusion_weight", f"must be in [0, 1], got {self.fusion_weight}")
        if self.max_queries is not None and self.max_queries < 1:
            raise FieldError("max_queries", f"must be >= 1, got {self.max_queries}")


@dataclass
class BenchmarkResult:
    name: str
    qids: list[str]
    run: Run
    merged: dict[str, Merged]
    stats: EngineStats
    evaluation: Evaluation
    traces: list[dict[str, Any]] = field(default_factory=list)
    rel_level: int = 1
    first_stage_evaluation: Evaluation | None = None


def default_rel_level(benchmark_name: str) -> int:
    """TREC DL's binary measures count grade >= 2 as relevant (trec_eval -l 2); BRIGHT and others grade >= 1."""
    return 2 if benchmark_name.startswith("trec-dl") else 1


def select_queries(benchmark: Benchmark, max_queries: int | None) -> list[str]:
    qids = [qid for qid in benchmark.queries if qid in benchmark.qrels] or list(benchmark.queries)
    return qids[:max_queries] if max_queries else qids


def check_passages(benchmark: Benchmark, qids: Sequence[str], top_k: int) -> None:
    """Fail before any generation when a candidate to rerank has no text (e.g. local BRIGHT without a corpus)."""
    from rankrl.eval.protocol import rerank_candidates

    missing = [d for q in qids for d in rerank_candidates(benchmark, q, top_k) if d not in benchmark.passages]
    if missing:
        note = benchmark.provenance.get("passages", "")
        raise RankrlError(f"benchmark {benchmark.name}: {len(set(missing))} candidate documents have no text "
                          f"(e.g. {', '.join(sorted(set(missing))[:5])}); reranking needs passage texts. {note}")


def repeat_order(docids: Sequence[str], qid: str, repeat: int, seed: int) -> list[str]:
    order = list(docids)
    if repeat > 0:
        random.Random(f"rankrl:{seed}:{qid}:{repeat}").shuffle(order)
    return order


def rerank_benchmark(benchmark: Benchmark, strategy: Strategy, backend: Backend, parse: Callable[[str, int], Any],
                     fit: Fit, sampling: Sampling, config: RerankConfig, *, cache: CompletionCache | None = None,
                     progress: bool = True) -> BenchmarkResult:
    """Rerank ``benchmark`` and score it. Everything the run needs is checked before the first generation."""
    config.validate()
    qids = select_queries(benchmark, config.max_queries)
    check_passages(benchmark, qids, config.top_k)
    from rankrl.eval.protocol import rerank_candidates

    texts = benchmark.passages  # Passage records: the template writes title and text its own way
    # BRIGHT's excluded ids leave before reranking: they never take a heap slot or window position, nor a prompt.
    candidates = {q: rerank_candidates(benchmark, q, config.top_k) for q in qids}
    tasks = {}
    for qid in qids:
        if not candidates[qid]:
            continue
        prior = {d: i for i, d in enumerate(candidates[qid])}
        for r in range(config.repeats):
            maker = PromptMaker(qid, benchmark.queries[qid].text, texts, fit, repeat=r, sample=r, prior=prior)
            tasks[(qid, r)] = strategy.run(maker, repeat_order(candidates[qid], qid, r, config.seed))
    traces: list[dict[str, Any]] = []
    engine = Engine(backend, parse, sampling, cache=cache, progress=progress, on_trace=traces.append)
    plans = [strategy.plan(len(candidates[qid])) for qid, _ in tasks] if hasattr(strategy, "plan") else []
    rankings, stats = engine.run(tasks, plan=combine(plans))  # bar totals and ETA (eval/progress.py)
    run: Run = {}
    merged_by_qid: dict[str, Merged] = {}
    for qid in qids:
        first = benchmark.first_stage.get(qid, [])
        if not first:
            continue
        cands = candidates[qid]
        reps: list[Ranking] = [rankings[(qid, r)] for r in range(config.repeats)]
        method = config.merge
        if method == "auto":
            method = "mean-score" if all(r.scores is not None for r in reps) else "mean-rank"
        merged = merge_repeats(reps, cands, method)
        if config.fusion != "none":
            merged = fuse(merged, dict(first), cands, config.fusion, config.fusion_weight)
        merged_by_qid[qid] = merged
        chosen, excluded_q = set(cands), benchmark.excluded.get(qid, set())
        final = merged.order + [d for d, _ in first if d not in chosen and d not in excluded_q]
        run[qid] = [(d, float(len(final) - i)) for i, d in enumerate(final)]
    rel_level = config.rel_level if config.rel_level is not None else default_rel_level(benchmark.name)
    qrels = {q: benchmark.qrels[q] for q in qids if q in benchmark.qrels}
    excluded = {q: benchmark.excluded[q] for q in qids if q in benchmark.excluded}
    evaluation = first_eval = None
    if qrels:
        evaluation = evaluate(qrels, run, config.metrics, rel_level=rel_level, excluded=excluded)
        first_run = {q: benchmark.first_stage[q] for q in qids if q in benchmark.first_stage}
        first_eval = evaluate(qrels, first_run, config.metrics, rel_level=rel_level, excluded=excluded)
    else:
        raise RankrlError(f"benchmark {benchmark.name}: no judged queries to score")
    return BenchmarkResult(name=benchmark.name, qids=qids, run=run, merged=merged_by_qid, stats=stats,
                           evaluation=evaluation, traces=traces, rel_level=rel_level,
                           first_stage_evaluation=first_eval)
