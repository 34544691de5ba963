"""Ranking metrics of one candidate group, vectorised over a batch of groups.

Deliberately hand-written for the reward hot path (every completion of every GRPO step): going through
pytrec_eval means building qrels/run dicts and an evaluator, 4-5x slower than these numpy functions even with one
evaluator for the whole batch (``benchmarks/rewards.py``). Every function here is checked against pytrec_eval
(nDCG, recall) or a brute-force reference implementation (RBO) in ``tests/rewards/test_ranking.py``.

Conventions shared by all functions:
- ``grades[i]`` is the relevance grade of the passage shown at position ``i`` (0-based); negative grades count as
  0, like trec_eval.
- ``order`` is a ranking of the shown positions, best first: a permutation of ``range(n)``.
- Batched variants take 2-D arrays ``(B, n)``: one group per row, all rows the same ``n``.
- A group with no relevant passage (every grade <= 0) scores 0 on every metric: there is nothing to rank, and a
  constant reward carries no signal for GRPO either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rankrl.core.errors import RankrlError

ArrayLike = Sequence[int] | Sequence[float] | np.ndarray


def _discounts(n: int) -> np.ndarray:
    """trec_eval's discount for 0-based rank i: 1 / log2(i + 2) (rank 1 is undiscounted)."""
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def _as_batch(a: ArrayLike | np.ndarray, dtype: type) -> np.ndarray:
    arr = np.asarray(a, dtype=dtype)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise RankrlError(f"expected a 1-D group or a 2-D batch of groups, got an array of shape {arr.shape}")
    return arr


def _check_k(k: int) -> int:
    if int(k) != k or k < 1:
        raise RankrlError(f"cutoff k must be a positive integer, got {k!r}")
    return int(k)


def ranked_grades(orders: np.ndarray, grades: np.ndarray) -> np.ndarray:
    """Grades in ranked order: ``out[b, r] = grades[b, orders[b, r]]``."""
    return np.take_along_axis(grades, orders, axis=1)


def dcg_batch(ranked: np.ndarray, k: int) -> np.ndarray:
    """DCG@k of grades already in ranked order (gain = grade clipped at 0, log2 discount)."""
    k = min(_check_k(k), ranked.shape[1])
    return np.clip(ranked[:, :k], 0.0, None) @ _discounts(k)


def ideal_dcg_batch(grades: np.ndarray, k: int) -> np.ndarray:
    """DCG@k of the ideal ordering of each group's own grades (trec_eval's ideal, qrels restricted to the group)."""
    k = min(_check_k(k), grades.shape[1])
    top = -np.sort(-np.clip(grades, 0.0, None), axis=1)[:, :k]
    return top @ _discounts(k)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def ndcg_at_k_batch(orders: np.ndarray, grades: np.ndarray, k: int) -> np.ndarray:
    """nDCG@k per row; equals pytrec_eval ``ndcg_cut_k`` with the qrels restricted to the group; 0 without relevant."""
    orders = _as_batch(orders, np.intp)
    grades = _as_batch(grades, np.float64)
    return _safe_ratio(dcg_batch(ranked_grades(orders, grades), k), ideal_dcg_batch(grades, k))


def ndcg_at_k(order: ArrayLike, grades: ArrayLike, k: int = 10) -> float:
    """nDCG@k of one ranking (see :func:`ndcg_at_k_batch`)."""
    return float(ndcg_at_k_batch(np.asarray(order)[None], np.asarray(grades)[None], k)[0])


def delta_ndcg_batch(
    orders: np.ndarray, grades: np.ndarray, k: int, normalise_losses: bool = False
) -> np.ndarray:
    """Improvement over the shown order: (nDCG(order) - nDCG(shown)) / (1 - nDCG(shown)).

    1 for an ideal ranking, 0 for returning the shown order, and 0 when the shown order is already ideal (nothing
    to improve). A ranking worse than the shown order is negative, down to -nDCG(shown)/(1 - nDCG(shown)); with
    ``normalise_losses`` a loss is divided by nDCG(shown) instead, which bounds the value to [-1, 1].
    """
    orders = _as_batch(orders, np.intp)
    grades = _as_batch(grades, np.float64)
    ideal = ideal_dcg_batch(grades, k)
    model = _safe_ratio(dcg_batch(ranked_grades(orders, grades), k), ideal)
    shown = _safe_ratio(dcg_batch(grades, k), ideal)
    diff = model - shown
    headroom = 1.0 - shown
    # Floating point: an ideal shown order can come out at 1 - 1e-16; treat tiny headroom as none.
    headroom = np.where(headroom > 1e-12, headroom, 0.0)
    out = _safe_ratio(diff, headroom)
    if normalise_losses:
        loss = _safe_ratio(diff, shown)
        out = np.where(diff < 0, loss, out)
    return np.where(ideal > 0, out, 0.0)


def delta_ndcg(order: ArrayLike, grades: ArrayLike, k: int = 10, normalise_losses: bool = False) -> float:
    """ΔnDCG@k of one ranking (see :func:`delta_ndcg_batch`)."""
    return float(delta_ndcg_batch(np.asarray(order)[None], np.asarray(grades)[None], k, normalise_losses)[0])


def recall_at_k_batch(orders: np.ndarray, grades: np.ndarray, k: int, rel_level: int = 1) -> np.ndarray:
    """Recall@k per row: relevant (grade >= rel_level) passages in the top k / relevant passages in the group.

    Equals pytrec_eval ``recall_k`` with ``relevance_level=rel_level`` and the qrels restricted to the group.
    """
    orders = _as_batch(orders, np.intp)
    grades = _as_batch(grades, np.float64)
    k = min(_check_k(k), orders.shape[1])
    relevant = grades >= rel_level
    hits = np.take_along_axis(relevant, orders[:, :k], axis=1).sum(axis=1)
    return _safe_ratio(hits.astype(np.float64), relevant.sum(axis=1).astype(np.float64))


def recall_at_k(order: ArrayLike, grades: ArrayLike, k: int = 10, rel_level: int = 1) -> float:
    """Recall@k of one ranking (see :func:`recall_at_k_batch`)."""
    return float(recall_at_k_batch(np.asarray(order)[None], np.asarray(grades)[None], k, rel_level)[0])


def rbo_batch(orders: np.ndarray, grades: np.ndarray, p: float = 0.9) -> np.ndarray:
    """Rank-biased overlap (Webber et al., 2010) between each ranking and the ideal ranking of its group.

    Variant: the *extrapolated* form over the full depth n, RBO = (1-p) * sum_{d=1..n} p^(d-1) * A_d + p^n, where
    A_d = overlap@d / d. Both lists are complete permutations of the same n passages, so A_d = 1 for every d >= n
    and the extrapolated tail p^n is the exact infinite sum, not an estimate: identical rankings score exactly 1.
    (Truncated RBO, the sum alone, would top out at 1 - p^n and reward a perfect answer less than 1.)

    The ideal ranking has ties (passages of equal grade); overlap@d is taken against the most favourable
    tie-breaking at depth d: passages graded above the grade g_d of the ideal list's d-th passage must be in the
    model's top d, and passages graded exactly g_d count up to the number of slots left for them. So swapping two
    equally graded passages never costs anything. Rows without a relevant passage score 0.
    """
    if not 0.0 < p < 1.0:
        raise RankrlError(f"RBO persistence p must be in (0, 1), got {p!r}")
    orders = _as_batch(orders, np.intp)
    grades = np.clip(_as_batch(grades, np.float64), 0.0, None)
    n = orders.shape[1]
    model = ranked_grades(orders, grades)  # (B, n): grade of the passage at model rank r
    ideal = -np.sort(-grades, axis=1)  # (B, n): grade at ideal rank d
    # Depth d = 1..n uses threshold g_d = ideal[:, d-1].  top[d-1, r] = r < d (model rank r is inside the top d).
    top = np.tri(n, n, 0, dtype=bool)  # (n depths, n ranks)
    thresh = ideal[:, :, None]  # (B, n, 1)
    above = (model[:, None, :] > thresh) & top[None]  # (B, n, n)
    equal = (model[:, None, :] == thresh) & top[None]
    n_above_model = above.sum(axis=2)  # passages above g_d in the model's top d
    n_equal_model = equal.sum(axis=2)
    n_above_ideal = (ideal[:, None, :] > thresh).sum(axis=2)  # passages above g_d in the whole group
    depth = np.arange(1, n + 1, dtype=np.float64)
    slots = depth[None, :] - n_above_ideal  # ideal top-d positions left for grade g_d
    overlap = n_above_model + np.minimum(slots, n_equal_model)
    weights = (1.0 - p) * p ** np.arange(n, dtype=np.float64)
    value = (overlap / depth[None, :]) @ weights + p**n
    return np.where(ideal[:, 0] > 0, value, 0.0)


def rbo(order: ArrayLike, grades: ArrayLike, p: float = 0.9) -> float:
    """RBO of one ranking against its group's ideal ranking (see :func:`rbo_batch`)."""
    return float(rbo_batch(np.asarray(order)[None], np.asarray(grades)[None], p)[0])


def order_from_scores(scores: ArrayLike) -> np.ndarray:
    """Ranking induced by scores: highest first, ties kept in shown order (stable sort). Works on 1-D or 2-D."""
    arr = np.asarray(scores, dtype=np.float64)
    return np.argsort(-arr, axis=-1, kind="stable")
