"""Pointwise rewards: each row shows ONE passage and the model scores it (``relevance``/``docids`` of length 1).

``pointwise_accuracy`` judges each score alone; ``pointwise_listwise`` (ERank's idea) ranks all scored passages
of a query in the batch together, so a score is rewarded for where it puts the passage among the others.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rankrl.core.errors import RankrlError
from rankrl.rewards.base import Reward, Row
from rankrl.rewards.columns import column, single_docid
from rankrl.rewards.scales import check_scale, paradigm_score_max, resolve_grade_max, unit


class PointwiseAccuracy(Reward):
    """1 − |score/score_max − grade/grade_max|, in [0, 1].

    ``score_max`` defaults to the paradigm's scale (10, or 1 for true/false); ``grade_max`` to the configured
    data maximum (``build_rewards(grade_max=...)``), else the largest grade in the batch (at least 1).
    """

    name = "pointwise_accuracy"
    paradigms = ("pointwise",)

    def __init__(
        self,
        paradigm: Any = "pointwise",
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
        scores = unit(np.array([float(r.parsed.value) for r in rows]), self.score_max)
        grades = unit(np.array([r.grades[0] for r in rows]), grade_max)
        return dict(zip((r.index for r in rows), (1.0 - np.abs(scores - grades)).tolist()))


class PointwiseListwise(Reward):
    """ERank-style listwise-derived reward for pointwise scores.

    Rows of the batch are grouped by ``qid``; within a query, every usable completion j has a passage d_j (its
    ``docids`` entry), a grade g_j (negative counts as 0) and a score s_j. Completions of the same passage (the
    GRPO rollouts of one prompt) do not compete with each other; every other completion of the query does:

        rank_j = 1 + Σ_{i: d_i ≠ d_j} ( [s_i > s_j] + ½·[s_i = s_j] )                 (global rank, ties averaged)
        relevant j     (g_j > 0):  r_j = (g_j / grade_max) / log2(1 + rank_j)              ∈ (0, 1]
        non-relevant j (g_j = 0):  r_j = − Σ_{i ∈ R} ( [s_j > s_i] + ½·[s_j = s_i] ) / |R|  ∈ [−1, 0]

    where R is the set of usable completions of the query whose passage is relevant. A relevant passage earns
    more the higher it lands among the query's other passages (DCG discount of its rank); a non-relevant one is
    penalised by the fraction of relevant completions it outranks (ties count half). A query without a relevant
    completion gives 0 to all of its completions. Unusable completions get the format gate's value and are left
    out of the ranking. The reward only carries ranking signal when several passages of a query share a batch.
    """

    name = "pointwise_listwise"
    paradigms = ("pointwise",)

    def __init__(
        self,
        paradigm: Any = "pointwise",
        format_gate: str = "zero",
        parser=None,
        *,
        grade_max: float | None = None,
    ):
        super().__init__(paradigm, format_gate, parser)
        self.grade_max = check_scale("grade_max", grade_max, self.name)

    def params(self) -> dict[str, Any]:
        return {"grade_max": self.grade_max}

    def score(self, rows: list[Row], kwargs: dict[str, Any]) -> dict[int, float]:
        num = len(kwargs["relevance"])  # present and aligned: checked by the wrapper
        qids = column(kwargs, "qid", num, self.name)
        docids = column(kwargs, "docids", num, self.name)
        grade_max = resolve_grade_max(self.grade_max, (r.grades for r in rows), self.name)
        groups: dict[Any, list[Row]] = {}
        seen: dict[tuple[Any, str], float] = {}
        passage: dict[int, str] = {}
        for r in rows:
            qid = qids[r.index]
            if qid is None:
                raise RankrlError(f"reward {self.name!r}: column 'qid' row {r.index} is empty")
            docid = single_docid(docids[r.index], r.index, self.name)
            grade = r.grades[0]
            if seen.setdefault((qid, docid), grade) != grade:
                raise RankrlError(
                    f"reward {self.name!r}: passage {docid!r} of query {qid!r} has two different grades in column "
                    f"'relevance' ({seen[(qid, docid)]} and {grade})"
                )
            passage[r.index] = docid
            groups.setdefault(qid, []).append(r)
        out: dict[int, float] = {}
        for members in groups.values():
            out.update(self._query_rewards(members, passage, grade_max))
        return out

    @staticmethod
    def _query_rewards(members: list[Row], passage: dict[int, str], grade_max: float) -> dict[int, float]:
        s = np.array([float(r.parsed.value) for r in members])
        g = np.clip(np.array([float(r.grades[0]) for r in members]), 0.0, None)
        relevant = g > 0
        if not relevant.any():
            return {r.index: 0.0 for r in members}
        ids = [passage[r.index] for r in members]
        codes = {d: c for c, d in enumerate(dict.fromkeys(ids))}
        d = np.array([codes[x] for x in ids])
        # beats[j, i] = 1 if s_j > s_i, 1/2 on a tie, 0 otherwise; so (1 - beats)[j, i] = 1 if s_i > s_j and
        # 1/2 on a tie: exactly the increments of rank_j. Siblings (same passage) are masked out.
        beats = (s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :])
        other = d[:, None] != d[None, :]
        rank = 1.0 + ((1.0 - beats) * other).sum(axis=1)
        gain = (g / grade_max) / np.log2(1.0 + rank)
        outranked = (beats * relevant[None, :] * other).sum(axis=1) / relevant.sum()
        values = np.where(relevant, gain, -outranked)
        return {r.index: float(v) for r, v in zip(members, values) if math.isfinite(v)}
