"""Throughput of every reward (completions/second, parse included) on one CPU core, with pytrec_eval as baseline.

    .venv/bin/python benchmarks/rewards.py [--completions 512] [--passages 20] [--reasoning-chars 1500]

Each paradigm gets a batch of ``--completions`` completions with ``--reasoning-chars`` characters of reasoning
(95% well-formed answers rendered by the paradigm, 5% broken ones, as early in training). Listwise, setwise and
groupwise rows show ``--passages`` passages; pointwise rows show one, grouped as 16 queries × 4 passages × 8
rollouts for ``pointwise_listwise``. Every reward is built on its own (no shared parse cache), so each timing
includes parsing every completion. The baseline parses the same listwise completions with the same parser and
computes nDCG@10 through pytrec_eval (one evaluator for the batch); the two nDCG vectors are checked equal.
Figures are the median (and best) of ``--repeats`` timed runs; the target is ≥ 50,000 completions/s for
``listwise_ndcg``. Prints a Markdown table.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core: set before numpy is imported

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pytrec_eval

from rankrl import prompts
from rankrl.rewards import CachedParser, get_reward

TARGET = 50_000
WORDS = [
    "the",
    "passage",
    "discusses",
    "query",
    "terms",
    "directly",
    "and",
    "[3]",
    "looks",
    "stronger",
    "than",
    "[7]",
    "because",
    "it",
    "names",
    "the",
    "cause",
    "while",
    "others",
    "only",
    "mention",
    "symptoms;",
    "evidence",
    "weighs",
    "toward",
    "the",
    "second",
    "group",
    "of",
    "candidates",
    "overall",
]
BROKEN = ("I would rank [2] first.", "<think>unfinished reasoning", "<answer></answer>", "")


def reasoning(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < chars:
        w = rng.choice(WORDS)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)[:chars]


def grades(rng: random.Random, n: int) -> list[int]:
    g = [rng.choice((0, 0, 0, 0, 1, 2, 3)) for _ in range(n)]
    g[rng.randrange(n)] = rng.choice((1, 2, 3))  # every group has a relevant passage
    return g


def batch(
    paradigm_name: str, args: argparse.Namespace, rng: random.Random
) -> tuple[list[str], dict[str, list]]:
    paradigm = prompts.get_paradigm(paradigm_name)
    n = args.passages
    completions: list[str] = []
    columns: dict[str, list] = {"relevance": [], "docids": [], "qid": []}
    for i in range(args.completions):
        if paradigm_name == "pointwise":
            query, passage = i // 32, (i // 8) % 4
            grade = [0, 1, 2, 3][passage] if query % 2 else [0, 0, 1, 3][passage]
            columns["relevance"].append([grade])
            columns["docids"].append([f"q{query}-d{passage}"])
            columns["qid"].append(f"q{query}")
            value: Any = float(rng.randint(0, 10))
        else:
            columns["relevance"].append(grades(rng, n))
            columns["docids"].append([f"q{i // 8}-d{j}" for j in range(n)])
            columns["qid"].append(f"q{i // 8}")
            if paradigm_name == "setwise":
                value = rng.randrange(n)
            elif paradigm_name == "listwise":
                value = rng.sample(range(n), n)
            else:
                value = [float(rng.randint(0, 10)) for _ in range(n)]
        if rng.random() < 0.05:
            completions.append(rng.choice(BROKEN))
        else:
            completions.append(paradigm.render_answer(value, reasoning(rng, args.reasoning_chars)))
    return completions, columns


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, float]:
    """(median wall time, median CPU time, best CPU time) of ``repeats`` calls, in seconds.

    CPU time (``time.process_time``) leaves out the time a shared machine gives to other processes, so it is the
    fairer one-core figure there; on an idle machine the two agree.
    """
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return statistics.median(wall), statistics.median(cpu), min(cpu)


def pytrec_ndcg(parser: Any, completions: list[str], columns: dict[str, list], k: int = 10) -> list[float]:
    """The baseline: same parse, nDCG@k through pytrec_eval (failed parses score 0, like the zero gate)."""
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for i, (text, rel) in enumerate(zip(completions, columns["relevance"])):
        n = len(rel)
        parsed = parser.parse(text, n)
        if not (parsed.ok and parsed.format_ok):
            continue
        key = str(i)
        qrels[key] = {str(j): int(g) for j, g in enumerate(rel)}
        run[key] = {str(doc): float(n - rank) for rank, doc in enumerate(parsed.value)}
    results = pytrec_eval.RelevanceEvaluator(qrels, {f"ndcg_cut_{k}"}).evaluate(run)
    return [results.get(str(i), {}).get(f"ndcg_cut_{k}", 0.0) for i in range(len(completions))]


REWARDS = (
    ("format", "listwise", {}),
    ("format", "listwise", {"mode": "partial"}),
    ("listwise_ndcg", "listwise", {"k": 10}),
    ("listwise_delta_ndcg", "listwise", {"k": 10}),
    ("recall", "listwise", {"k": 10}),
    ("rbo", "listwise", {"p": 0.9}),
    ("setwise_choice", "setwise", {}),
    ("pointwise_accuracy", "pointwise", {"grade_max": 3}),
    ("pointwise_listwise", "pointwise", {"grade_max": 3}),
    ("groupwise_ndcg", "groupwise", {"k": 10}),
    ("distributional", "groupwise", {"grade_max": 3}),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--completions", type=int, default=512)
    ap.add_argument("--passages", type=int, default=20)
    ap.add_argument("--reasoning-chars", type=int, default=1500)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core

    rng = random.Random(args.seed)
    batches = {name: batch(name, args, rng) for name in prompts.PARADIGMS}
    rows = []
    for name, paradigm_name, params in REWARDS:
        completions, columns = batches[paradigm_name]
        reward = get_reward(name, paradigm_name, "zero", **params)
        label = name + "".join(f" {k}={v}" for k, v in params.items())
        rows.append(
            (label, paradigm_name, *timed(lambda r=reward, c=completions, k=columns: r(c, **k), args.repeats))
        )

    listwise = prompts.get_paradigm("listwise")
    completions, columns = batches["listwise"]
    parse_all = timed(lambda: [listwise.parse(c, args.passages) for c in completions], args.repeats)
    rows.append(("parse only (no reward)", "listwise", *parse_all))
    baseline = timed(lambda: pytrec_ndcg(listwise, completions, columns), args.repeats)
    rows.append(("pytrec_eval nDCG@10 (baseline, same parse)", "listwise", *baseline))
    # Without the parse (both read a warm parse cache): the metric computation and the reward wrapper alone.
    cache = CachedParser(listwise)
    cached = get_reward("listwise_ndcg", listwise, "zero", parser=cache, k=10)
    rows.append(
        (
            "listwise_ndcg k=10, parse cached (wrapper + metric)",
            "listwise",
            *timed(lambda: cached(completions, **columns), args.repeats),
        )
    )
    rows.append(
        (
            "pytrec_eval nDCG@10, parse cached",
            "listwise",
            *timed(lambda: pytrec_ndcg(cache, completions, columns), args.repeats),
        )
    )

    ours = get_reward("listwise_ndcg", "listwise", "zero", k=10)(completions, **columns)
    theirs = pytrec_ndcg(listwise, completions, columns)
    gap = max(abs(a - b) for a, b in zip(ours, theirs))
    if gap > 1e-9:
        print(f"ERROR: listwise_ndcg differs from pytrec_eval by {gap:.3g}", file=sys.stderr)
        return 1

    size = args.completions
    cpu_rate = {label: size / cpu for label, _, _, cpu, _ in rows}
    wall_rate = {label: size / wall for label, _, wall, _, _ in rows}
    print(
        f"### Reward throughput: {size} completions × {args.passages} passages, "
        f"~{args.reasoning_chars}-char reasoning, one core\n"
    )
    print(
        "| reward | paradigm | ms / batch (wall, median) | completions/s (wall, median) "
        "| completions/s (CPU time, median) | completions/s (CPU time, best) |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for label, paradigm_name, wall, cpu, best in rows:
        print(
            f"| {label} | {paradigm_name} | {wall * 1e3:.2f} | {size / wall:,.0f} | {size / cpu:,.0f} | "
            f"{size / best:,.0f} |"
        )
    ndcg = "listwise_ndcg k=10"
    with_parse = cpu_rate[ndcg] / cpu_rate["pytrec_eval nDCG@10 (baseline, same parse)"]
    without = (
        cpu_rate["listwise_ndcg k=10, parse cached (wrapper + metric)"]
        / cpu_rate["pytrec_eval nDCG@10, parse cached"]
    )
    print(
        f"\nlistwise_ndcg vs pytrec_eval (same run, CPU time): {with_parse:.2f}x with parsing, {without:.1f}x "
        f"without; max |difference| = {gap:.1e}"
    )
    verdict = "met" if cpu_rate[ndcg] >= TARGET else "NOT met"
    print(
        f"target ≥ {TARGET:,} completions/s for listwise_ndcg: {verdict} ({cpu_rate[ndcg]:,.0f}/s CPU time, "
        f"{wall_rate[ndcg]:,.0f}/s wall clock, medians)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
