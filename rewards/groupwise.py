"""Groupwise rewards: the model scores every passage of a group (GroupRank), ``value`` = list of n scores.

``groupwise_ndcg`` rewards the order the scores induce; ``distributional`` rewards the scores themselves for
meaning the same thing in every group, which is what lets evaluation merge groups by score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rankrl.rewards import ranking
from rankrl.rewards.base import Reward, Row, check_value_length
from rankrl.rewards.listwise import RankingReward, _positive_int
from rankrl.rewards.scales import check_scale, paradigm_score_max, resolve_grade_max, unit


class GroupwiseNDCG(RankingReward):
    """nDCG@k of the order induced by the scores (highest first, ties in shown order); same nDCG as
    ``listwise_ndcg`` (pytrec_eval ``ndcg_cut_k`` on the group). 0 for a group with no relevant passage."""

    name = "groupwise_ndcg"
    paradigms = ("groupwise",)

    def __init__(self, paradigm: Any = "groupwise", format_gate: str = "zero", parser=None, *, k: int = 10):
        super().__init__(paradigm, format_gate, parser)
        self.k = _positive_int("k", k, self.name)

    def params(self) -> dict[str, Any]:
        return {"k": self.k}

    def metric(self, orders: np.ndarray, grades: np.ndarray) -> np.ndarray:
        return ranking.ndcg_at_k_batch(orders, grades, self.k)


class Distributional(Reward):
    """Calibration of the scores across groups (GroupRank's distributional idea), in [0, 1]:

        distributional = 1 − (1/n) Σ_i ( ŝ_i − ĝ_i )²,   ŝ_i = clip(s_i / score_max, 0, 1),  ĝ_i = g_i / grade_max

    Why this form: the squared error is a strictly proper scoring rule (the Brier score), so in expectation it
    is maximised only by ŝ_i = E[ĝ_i | query, passage], the expected normalised grade. That is an absolute
    quantity, independent of which other passages share the group, so scores from different groups can be
    merged. The absolute error (1 − mean |ŝ − ĝ|) is maximised by the *median* grade, which snaps to grade levels
    and throws away the model's uncertainty; a divergence between within-group softmax distributions is
    shift-invariant, so it would not pin the scale at all (a group of irrelevant passages could score 10s).
    Groups without a relevant passage are still scored: low scores there are exactly the calibration wanted.
    """

    name = "distributional"
    paradigms = ("groupwise",)

    def __init__(
        self,
        paradigm: Any = "groupwise",
        format_gate: str = "zero",
        parser=None,
        *,
        score_max: float | None = None,
        grade_max: float | None = None,
    ):
        super().__init__(paradigm, format_gate, parser)
        self.score_max = paradigm_score_max(
            self.paradigm, check_scale("score_max", score_max, self.name), self.name
        )
        self.grade_max = check_scale("grade_max", grade_max, self.name)

    def params(self) -> dict[str, Any]:
        return {"score_max": self.score_max, "grade_max": self.grade_max}

    def score(self, rows: list[Row], kwargs: dict[str, Any]) -> dict[int, float]:
        grade_max = resolve_grade_max(self.grade_max, (r.grades for r in rows), self.name)
        out: dict[int, float] = {}
        for r in rows:
            check_value_length(r, len(r.parsed.value), self.name)
            s = unit(np.asarray(r.parsed.value, dtype=np.float64), self.score_max)
            g = unit(np.asarray(r.grades, dtype=np.float64), grade_max)
            out[r.index] = float(1.0 - np.mean((s - g) ** 2))
        return out
