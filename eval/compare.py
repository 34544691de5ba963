"""Paired comparison of runs on the same queries: means, paired differences, significance, wins and losses.

Every run is scored on the same judged queries (a query missing from a run counts 0, as in ``evaluate``), so the
per-query values pair up. Against the first run (the baseline), each other run gets, per metric: the mean of the
per-query differences, their standard error (sample standard deviation / sqrt(n)), the two-sided paired t-test
p-value (``scipy.stats.ttest_rel``: the test IR papers report for "significantly better than"), and how many queries
it wins, ties and loses. Kept free of torch so that ``rankrl compare`` is instant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rankrl.core.errors import RankrlError
from rankrl.eval.metrics import DEFAULT_METRICS, Evaluation, RunLike, evaluate


@dataclass(frozen=True)
class PairedDifference:
    """One metric of one run against the baseline, over ``n`` paired queries."""

    metric: str
    mean: float  # mean of run - baseline per query
    stderr: float  # standard error of that mean (nan with fewer than 2 queries)
    p_value: float  # two-sided paired t-test (nan when every difference is 0 or n < 2)
    wins: int
    ties: int
    losses: int
    n: int


@dataclass
class Comparison:
    """Means of every run, and each run after the first against the first (the baseline)."""

    names: list[str]
    metrics: list[str]
    evaluations: dict[str, Evaluation]
    differences: dict[str, dict[str, PairedDifference]]  # run name -> metric -> difference vs names[0]

    @property
    def baseline(self) -> str:
        return self.names[0]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: ``{"queries", "baseline", "means": {run: {metric: v}}, "vs_baseline": {run: {metric: {...}}}}``."""
        first = self.evaluations[self.baseline]
        return {
            "queries": first.num_queries,
            "baseline": self.baseline,
            "means": {name: dict(ev.mean) for name, ev in self.evaluations.items()},
            "vs_baseline": {
                name: {m: {"diff": d.mean, "stderr": _json_float(d.stderr), "p_value": _json_float(d.p_value),
                           "wins": d.wins, "ties": d.ties, "losses": d.losses} for m, d in diffs.items()}
                for name, diffs in self.differences.items()
            },
        }


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else value


def paired_difference(metric: str, baseline: Mapping[str, float], other: Mapping[str, float],
                      tie_tolerance: float = 1e-12) -> PairedDifference:
    """Paired statistics of ``other - baseline`` over the queries of ``baseline`` (qid -> value)."""
    from scipy import stats  # loaded on use: importing this module stays cheap

    qids = list(baseline)
    missing = [q for q in qids if q not in other]
    if missing:
        raise RankrlError(f"cannot pair {metric}: {len(missing)} queries have no value in the other run "
                          f"(e.g. {missing[0]!r})")
    a = [baseline[q] for q in qids]
    b = [other[q] for q in qids]
    diffs = [y - x for x, y in zip(a, b)]
    n = len(diffs)
    mean = sum(diffs) / n if n else math.nan
    if n >= 2:
        var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
        stderr = math.sqrt(var / n)
        p_value = float(stats.ttest_rel(b, a).pvalue) if var > 0 else (1.0 if mean == 0 else 0.0)
    else:
        stderr = p_value = math.nan
    wins = sum(d > tie_tolerance for d in diffs)
    losses = sum(d < -tie_tolerance for d in diffs)
    return PairedDifference(metric, mean, stderr, p_value, wins, n - wins - losses, losses, n)


def compare_evaluations(evaluations: Mapping[str, Evaluation]) -> Comparison:
    """Pair already-scored runs (same qrels, same metrics) against the first one."""
    if len(evaluations) < 2:
        raise RankrlError("a comparison needs at least two runs")
    names = list(evaluations)
    first = evaluations[names[0]]
    metrics = list(first.mean)
    differences: dict[str, dict[str, PairedDifference]] = {}
    for name in names[1:]:
        ev = evaluations[name]
        if set(ev.per_query) != set(first.per_query):
            raise RankrlError(f"runs {names[0]!r} and {name!r} were scored on different queries")
        differences[name] = {
            m: paired_difference(m, {q: v[m] for q, v in first.per_query.items()},
                                 {q: v[m] for q, v in ev.per_query.items()})
            for m in metrics
        }
    return Comparison(names, metrics, dict(evaluations), differences)


def compare_runs(qrels: Mapping[str, Mapping[str, int]], runs: Mapping[str, RunLike],
                 metrics: Sequence[str] = DEFAULT_METRICS, rel_level: int = 1,
                 excluded: Mapping[str, Iterable[str]] | None = None, depth: int | None = None) -> Comparison:
    """Score each run on ``qrels`` (trec_eval semantics, optional BRIGHT ``excluded`` and depth) and pair them
    against the first run."""
    if len(runs) < 2:
        raise RankrlError("a comparison needs at least two runs")
    evaluations = {name: evaluate(qrels, run, metrics=metrics, rel_level=rel_level, excluded=excluded, depth=depth)
                   for name, run in runs.items()}
    return compare_evaluations(evaluations)


def _p_text(p: float) -> str:
    if math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_table(comparison: Comparison) -> str:
    """A plain-text table: one block per metric, the baseline first, then each run with its paired statistics."""
    width = max(len(n) for n in comparison.names)
    n = comparison.evaluations[comparison.baseline].num_queries
    lines = [(f"{n} judged queries; paired differences against {comparison.baseline} "
              f"(± standard error, two-sided paired t-test)")]
    for metric in comparison.metrics:
        lines.append("")
        lines.append(f"{metric:<{width}}  {'mean':>7}  {'diff':>8}  {'± se':>7}  {'p':>6}  {'win/tie/loss':>13}")
        base = comparison.evaluations[comparison.baseline].mean[metric]
        lines.append(f"{comparison.baseline:<{width}}  {base:7.4f}")
        for name, diffs in comparison.differences.items():
            d = diffs[metric]
            se = "-" if math.isnan(d.stderr) else f"{d.stderr:.4f}"
            wtl = f"{d.wins}/{d.ties}/{d.losses}"
            lines.append(f"{name:<{width}}  {comparison.evaluations[name].mean[metric]:7.4f}  {d.mean:+8.4f}  "
                         f"{se:>7}  {_p_text(d.p_value):>6}  {wtl:>13}")
    return "\n".join(lines)
