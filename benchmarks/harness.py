"""Orchestration overhead of ``rankrl eval``: everything but the model, on 1,000 queries x 100 candidates.

An instant backend (the qrels oracle, ``eval.backends.oracle``) answers every prompt, so the time that remains is
the harness's own: prompt building (``prompts.fit_messages``), cache keys and the JSONL completion cache, parsing,
the strategies' state machines, merging, the run and the metrics. For each strategy at its default settings it
prints the overhead per query, the backend calls per round, and the LLM calls, passages shown and tokens per
query, then compares the overhead with the time a 7B model on one H100 would need for the same prompts.

LLM time model (a lower bound, which makes the overhead share an upper bound):
    LLM seconds = completion tokens / 5,777 tokens/s,
5,777 tokens/s being the Offline result of Red Hat's MLPerf Inference v5.1 submission for Llama-3.1-8B (FP8, vLLM
0.10.0) on a single H100 (MLPerf counts generated tokens per second; the prompts are processed within that time).
Prompt processing of our longer prompts is not charged at all, and every completion is assumed to be only
``--completion-tokens`` (default 128) long, shorter than the reasoning of Rank-R1/REARANK-style models.
Prompt tokens are counted as characters / 4 unless ``--tokenizer DIR`` names a Hugging Face tokenizer.

Run: ``.venv/bin/python benchmarks/harness.py`` (``--queries 200`` for a quicker look).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rankrl import prompts
from rankrl.data.records import Benchmark, Passage, Query
from rankrl.data.trec import write_run
from rankrl.eval.backends.base import Sampling
from rankrl.eval.backends.oracle import OracleBackend
from rankrl.eval.cache import CompletionCache
from rankrl.eval.report import write_traces
from rankrl.eval.runner import RerankConfig, rerank_benchmark
from rankrl.eval.strategies import StrategyOptions, build_strategy

H100_7B_TOKENS_PER_SECOND = 5777.0
"""MLPerf Inference v5.1 Offline, Llama-3.1-8B on 1x H100 with vLLM (Red Hat submission): generated tokens/s."""
TARGET = 0.02
VLLM_BATCH = 4096
"""The CLI's default vLLM batch size (prompts per backend call)."""

STRATEGIES = [
    ("setwise heapsort (c=19, k=10)", "setwise", {}),
    ("setwise bubblesort (c=19, k=10)", "setwise", {"sort": "bubblesort"}),
    ("listwise window 20 / stride 10", "listwise", {}),
    ("pointwise (every candidate)", "pointwise", {}),
    ("groupwise (groups of 20)", "groupwise", {}),
    ("elimination top-20 (19 rounds)", "elimination", {"group_size": 20}),  # IRanker: n-1 rounds of n..2 passages
]

WORDS = ["river", "city", "music", "history", "science", "ocean", "animal", "planet", "energy", "health", "law", "sport", "water", "computer", "language", "food", "travel", "market", "disease", "climate", "protein", "engine", "bridge", "garden", "painting", "novel", "battery", "volcano", "galaxy", "vaccine", "currency", "the", "of", "and", "to", "in", "is", "for", "with", "on", "that", "which", "what", "how"]


class TimedOracle(OracleBackend):
    """The oracle, with the CPU time it spends (the stand-in for the model, not harness overhead)."""

    cpu_seconds = 0.0

    def generate(self, prompts_, sampling):
        start = time.process_time()
        try:
            return super().generate(prompts_, sampling)
        finally:
            self.cpu_seconds += time.process_time() - start


def synthetic(num_queries: int, candidates: int, words: int, seed: int = 0) -> Benchmark:
    """Queries with ``candidates`` passages of ``words`` words each (MS MARCO passages average ~56 words)."""
    rng = random.Random(seed)
    queries, passages, qrels, run = {}, {}, {}, {}
    for q in range(num_queries):
        qid = f"q{q}"
        queries[qid] = Query(qid, " ".join(rng.choice(WORDS) for _ in range(6)))
        docids = [f"q{q}d{i}" for i in range(candidates)]
        for d in docids:
            passages[d] = Passage(d, " ".join(rng.choice(WORDS) for _ in range(words)))
        qrels[qid] = {d: rng.choice((0, 0, 0, 1, 2, 3)) for d in docids}
        run[qid] = [(d, float(candidates - i)) for i, d in enumerate(docids)]
    return Benchmark("synthetic-harness", queries, passages, qrels, run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--passage-words", type=int, default=56)
    parser.add_argument("--completion-tokens", type=int, default=128,
                        help="assumed completion length of a real reasoning model (LLM-time estimate)")
    parser.add_argument("--tokenizer", help="count prompt tokens with this Hugging Face tokenizer")
    parser.add_argument("--only", help="run only strategies whose label contains this text")
    args = parser.parse_args(argv)

    tokenizer = None
    if args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    bench = synthetic(args.queries, args.candidates, args.passage_words)
    print(f"{args.queries} synthetic queries x {args.candidates} candidates ({args.passage_words}-word passages); "
          f"instant oracle backend; completion cache on; tokens: "
          f"{'tokenizer ' + args.tokenizer if tokenizer else 'chars / 4'}")
    print(f"LLM time model: {args.completion_tokens} completion tokens per prompt at "
          f"{H100_7B_TOKENS_PER_SECOND:,.0f} tokens/s (7-8B model, 1x H100, vLLM; MLPerf Inference v5.1 Offline)")
    header = (f"{'strategy':34} {'calls/q':>8} {'passages/q':>10} {'prompt tok/q':>12} {'rounds':>6} "
              f"{'calls/round':>11} {'overhead ms/q':>13} {'LLM ms/q':>9} {'overhead %':>10} {'outputs s':>9} {'wall ms/q':>10}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for label, name, options in STRATEGIES:
        if args.only and args.only not in label:
            continue
        paradigm = prompts.get_paradigm(name)
        backend = TimedOracle(bench.qrels, paradigm, tokenizer=tokenizer)

        def fit(query, texts, paradigm=paradigm):
            return prompts.fit_messages(paradigm, query, texts).messages

        with tempfile.TemporaryDirectory() as tmp:
            cache = CompletionCache(Path(tmp) / "completions.cache.jsonl")
            start, cpu_start = time.perf_counter(), time.process_time()
            result = rerank_benchmark(bench, build_strategy(name, StrategyOptions(**options)), backend, paradigm.parse, fit,
                                      Sampling(), RerankConfig(), cache=cache, progress=False)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            t0 = time.perf_counter()
            write_run(Path(tmp) / "run.trec", result.run)
            write_traces(Path(tmp) / "traces.jsonl", result.traces)
            outputs = time.perf_counter() - t0
        stats = result.stats
        n = len(stats.per_query)
        overhead = cpu - backend.cpu_seconds  # CPU time: the machine running this may be shared
        wall_overhead = wall - stats.backend_seconds
        calls_q = stats.prompts / n
        passages_q = sum(c.passages_shown for c in stats.per_query.values()) / n
        prompt_tok_q = stats.prompt_tokens / n
        llm_s_q = calls_q * args.completion_tokens / H100_7B_TOKENS_PER_SECOND
        share = (overhead / n) / llm_s_q
        worst = max(worst, share)
        # With the CLI's default vLLM batch size a round of P prompts takes ceil(P / 4096) backend calls.
        calls_round = sum(-(-p // VLLM_BATCH) for p in stats.prompts_per_round) / stats.rounds
        print(f"{label:34} {calls_q:8.1f} {passages_q:10.1f} {prompt_tok_q:12,.0f} {stats.rounds:6d} "
              f"{calls_round:11.2f} {1000 * overhead / n:13.2f} {1000 * llm_s_q:9.0f} {100 * share:9.2f}% "
              f"{outputs:9.2f} {1000 * wall_overhead / n:10.2f}")
    print(f"\nworst overhead share: {100 * worst:.2f}% of the LLM time (target < {100 * TARGET:.0f}%): "
          f"{'OK' if worst < TARGET else 'ABOVE TARGET'}")
    print("calls/round: backend calls per round at the vLLM default batch of 4096 prompts (1.00 = one call; "
          "bubble sort re-asks identical windows in later passes, which the completion cache answers, so some "
          "of its rounds need no call at all).")
    print("overhead = CPU time of everything but the backend (process_time); wall ms/q = the same in wall-clock time "
          "(inflated when the machine is shared); outputs s = writing run.trec + traces.jsonl.")
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
