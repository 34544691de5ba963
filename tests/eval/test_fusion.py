"""Merging repeats and fusing with the first stage."""

from __future__ import annotations

import pytest

from rankrl.core.errors import ConfigError, RankrlError
from rankrl.eval.engine import Ranking
from rankrl.eval.fusion import fuse, merge_repeats, normalize

DOCS = ["a", "b", "c", "d"]


def test_mean_rank_merge_with_first_stage_tie_break():
    reps = [Ranking(["a", "b", "c", "d"]), Ranking(["b", "a", "d", "c"])]
    merged = merge_repeats(reps, DOCS, "mean-rank")
    assert merged.order == ["a", "b", "c", "d"]  # a and b tie on mean rank 0.5: first-stage order decides
    assert merged.scores == {"a": -0.5, "b": -0.5, "c": -2.5, "d": -2.5}


def test_mean_score_merge_uses_model_scores():
    reps = [Ranking(["c", "a", "b", "d"], {"a": 5, "b": 1, "c": 9, "d": 0}),
            Ranking(["a", "b", "c", "d"], {"a": 8, "b": 4, "c": 2, "d": 0})]
    merged = merge_repeats(reps, DOCS, "mean-score")
    assert merged.scores == {"a": 6.5, "b": 2.5, "c": 5.5, "d": 0.0}
    assert merged.order == ["a", "c", "b", "d"]


def test_merge_rejects_rankings_of_other_candidates():
    with pytest.raises(ValueError, match="exactly the query's candidates"):
        merge_repeats([Ranking(["a", "b"])], DOCS)
    with pytest.raises(RankrlError, match="unknown merge method"):
        merge_repeats([Ranking(DOCS)], DOCS, "median")


def test_normalisations():
    assert normalize([2.0, 4.0, 6.0], "minmax") == [0.0, 0.5, 1.0]
    assert normalize([3.0, 3.0], "minmax") == [0.0, 0.0]
    z = normalize([1.0, 2.0, 3.0], "zscore")
    assert z == pytest.approx([-1.224744871391589, 0.0, 1.224744871391589])
    assert normalize([5.0, 5.0], "zscore") == [0.0, 0.0]


def test_fusion_formula_and_weight_extremes():
    reranked = merge_repeats([Ranking(["d", "c", "b", "a"])], DOCS, "mean-rank")  # reranker reverses BM25
    first = {"a": 10.0, "b": 8.0, "c": 6.0, "d": 4.0}
    only_reranker = fuse(reranked, first, DOCS, "minmax", 1.0)
    only_first = fuse(reranked, first, DOCS, "minmax", 0.0)
    assert only_reranker.order == ["d", "c", "b", "a"] and only_first.order == DOCS
    mixed = fuse(reranked, first, DOCS, "minmax", 0.25)
    # reranker minmax: d=1, c=2/3, b=1/3, a=0; first stage minmax: a=1, b=2/3, c=1/3, d=0
    assert mixed.scores["a"] == pytest.approx(0.75)
    assert mixed.scores["d"] == pytest.approx(0.25)
    assert mixed.order == ["a", "b", "c", "d"]
    with pytest.raises(ConfigError, match="fusion-weight"):
        fuse(reranked, first, DOCS, "zscore", 1.5)
