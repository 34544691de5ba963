"""Merging test-time repeats and fusing the reranker with the first stage.

Repeats: a strategy run r times on shuffled candidate orders gives r rankings; ``mean-rank`` orders by the mean
position, ``mean-score`` by the mean model score (strategies without scores use -position as their score, so
both agree for them). Ties keep the first-stage order.

Fusion: ``fused = w · norm(reranker) + (1 − w) · norm(first stage)`` over the reranked candidates, with ``norm``
min-max (``(x − min)/(max − min)``, 0 when all equal) or z-score (``(x − mean)/std``, population std, 0 when all
equal), or ``raw`` (no normalisation: GroupRank's ``0.6 · mean(score/10) + 0.4 · retriever score``, AQ-MedAI/Diver
@95b111b ``Reranker/rerank_groupwise.py``; with rankrl's 0–10 scores the same order is weight 0.06/0.46 = 3/23).
The reranker score is the merged model score (mean-score) or −mean position (mean-rank).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rankrl.core.errors import ConfigError, unknown_name
from rankrl.eval.engine import Ranking

MERGES = ("mean-rank", "mean-score")
FUSIONS = ("none", "minmax", "zscore", "raw")


@dataclass(frozen=True)
class Merged:
    order: list[str]
    scores: dict[str, float]
    """The reranker score of each candidate (higher is better)."""


def merge_repeats(rankings: Sequence[Ranking], docids: Sequence[str], method: str = "mean-rank") -> Merged:
    """Merge the rankings of one query's repeats. ``docids`` is the first-stage order (tie-break)."""
    if method not in MERGES:
        raise unknown_name("merge method", method, MERGES)
    if not rankings:
        raise ValueError("no rankings to merge")
    expected = set(docids)
    if len(rankings) == 1 and (method == "mean-rank" or rankings[0].scores is None):
        only = rankings[0].order
        if len(only) != len(docids) or set(only) != expected:
            raise ValueError("a repeat's ranking does not hold exactly the query's candidates")
        return Merged(order=list(only), scores={d: -float(rank) for rank, d in enumerate(only)})
    position = {d: i for i, d in enumerate(docids)}
    totals = dict.fromkeys(docids, 0.0)
    for ranking in rankings:
        if len(ranking.order) != len(docids) or set(ranking.order) != expected:
            raise ValueError("a repeat's ranking does not hold exactly the query's candidates")
        use_scores = method == "mean-score" and ranking.scores is not None
        for rank, docid in enumerate(ranking.order):
            totals[docid] += ranking.scores[docid] if use_scores else -float(rank)  # type: ignore[index]
    scores = {d: totals[d] / len(rankings) for d in docids}
    order = sorted(docids, key=lambda d: (-scores[d], position[d]))
    return Merged(order=order, scores=scores)


def normalize(values: Sequence[float], method: str) -> list[float]:
    if method == "raw":
        return [float(v) for v in values]
    if method == "minmax":
        low, high = min(values), max(values)
        span = high - low
        return [0.0 if span == 0 else (v - low) / span for v in values]
    if method == "zscore":
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        return [0.0 if std == 0 else (v - mean) / std for v in values]
    raise unknown_name("fusion normalisation", method, FUSIONS[1:])


def fuse(merged: Merged, first_stage: dict[str, float], docids: Sequence[str], method: str,
         weight: float) -> Merged:
    """Fuse reranker and first-stage scores; ``weight`` is the reranker's share, ``1 - weight`` the first stage's."""
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"--fusion-weight must be in [0, 1], got {weight}")
    if not docids:
        return merged
    rerank = normalize([merged.scores[d] for d in docids], method)
    first = normalize([first_stage[d] for d in docids], method)
    scores = {d: weight * r + (1.0 - weight) * f for d, r, f in zip(docids, rerank, first)}
    position = {d: i for i, d in enumerate(docids)}
    order = sorted(docids, key=lambda d: (-scores[d], position[d]))
    return Merged(order=order, scores=scores)
