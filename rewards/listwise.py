"""Rewards that score a ranking of one group: nDCG@k, ΔnDCG@k, Recall@k, RBO.

The ranking is the parsed permutation (listwise) or the order induced by the parsed scores (groupwise, ties in
shown order). Rows are stacked per group size and scored by the vectorised metrics of ``rewards.ranking``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from rankrl.core.errors import RankrlError
from rankrl.rewards import ranking
from rankrl.rewards.base import Reward, Row, check_value_length


def _positive_int(name: str, value: Any, reward: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RankrlError(f"reward {reward!r}: parameter {name} must be a positive integer, got {value!r}")
    return value


class RankingReward(Reward):
    """Scores the ranking of each usable row with ``metric(orders, grades) -> values`` on (B, n) arrays."""

    paradigms: ClassVar[tuple[str, ...]] = ("listwise", "groupwise")

    def metric(self, orders: np.ndarray, grades: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _orders(self, rows: list[Row]) -> np.ndarray:
        for r in rows:
            check_value_length(r, len(r.parsed.value), self.name)
        if self.paradigm.gives_scores:  # groupwise: a score per passage, ranked by score
            return ranking.order_from_scores(np.array([r.parsed.value for r in rows], dtype=np.float64))
        return np.array([r.parsed.value for r in rows], dtype=np.intp)

    def score(self, rows: list[Row], kwargs: dict[str, Any]) -> dict[int, float]:
        by_size: dict[int, list[Row]] = {}
        for r in rows:
            by_size.setdefault(r.n, []).append(r)
        out: dict[int, float] = {}
        for same in by_size.values():
            grades = np.array([r.grades for r in same], dtype=np.float64)
            values = self.metric(self._orders(same), grades)
            out.update(zip((r.index for r in same), values.tolist()))
        return out


class ListwiseNDCG(RankingReward):
    """nDCG@k of the parsed permutation: gain = grade, log2 discount, ideal from the group's own grades.

    Exactly pytrec_eval's ``ndcg_cut_k`` with the qrels restricted to the group; 0 for a group with no relevant
    passage. Range [0, 1].
    """

    name = "listwise_ndcg"
    paradigms = ("listwise",)

    def __init__(self, paradigm: Any = "listwise", format_gate: str = "zero", parser=None, *, k: int = 10):
        super().__init__(paradigm, format_gate, parser)
        self.k = _positive_int("k", k, self.name)

    def params(self) -> dict[str, Any]:
        return {"k": self.k}

    def metric(self, orders: np.ndarray, grades: np.ndarray) -> np.ndarray:
        return ranking.ndcg_at_k_batch(orders, grades, self.k)


class ListwiseDeltaNDCG(RankingReward):
    """(nDCG@k − nDCG@k of the shown order) / (1 − nDCG@k of the shown order); 0 when the shown order is ideal.

    1 for an ideal ranking, 0 for echoing the shown order, negative for making it worse (down to
    −nDCG0/(1−nDCG0)); ``normalise_losses=True`` divides a loss by nDCG0 instead, bounding the reward to [−1, 1].
    0 for a group with no relevant passage.
    """

    name = "listwise_delta_ndcg"

    def __init__(
        self,
        paradigm: Any = "listwise",
        format_gate: str = "zero",
        parser=None,
        *,
        k: int = 10,
        normalise_losses: bool = False,
    ):
        super().__init__(paradigm, format_gate, parser)
        self.k = _positive_int("k", k, self.name)
        if not isinstance(normalise_losses, bool):
            raise RankrlError(
                f"reward {self.name!r}: normalise_losses must be true or false, got {normalise_losses!r}"
            )
        self.normalise_losses = normalise_losses

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "normalise_losses": self.normalise_losses}

    def metric(self, orders: np.ndarray, grades: np.ndarray) -> np.ndarray:
        return ranking.delta_ndcg_batch(orders, grades, self.k, self.normalise_losses)


class Recall(RankingReward):
    """Recall@k: relevant passages (grade ≥ rel_level) ranked in the top k / relevant passages in the group.

    pytrec_eval's ``recall_k`` (``relevance_level=rel_level``) restricted to the group; 0 without a relevant
    passage. Range [0, 1].
    """

    name = "recall"

    def __init__(
        self,
        paradigm: Any = "listwise",
        format_gate: str = "zero",
        parser=None,
        *,
        k: int = 10,
        rel_level: int = 1,
    ):
        super().__init__(paradigm, format_gate, parser)
        self.k = _positive_int("k", k, self.name)
        self.rel_level = _positive_int("rel_level", rel_level, self.name)

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "rel_level": self.rel_level}

    def metric(self, orders: np.ndarray, grades: np.ndarray) -> np.ndarray:
        return ranking.recall_at_k_batch(orders, grades, self.k, self.rel_level)


class RBO(RankingReward):
    """Rank-biased overlap with the group's ideal ranking (extrapolated form, tie-aware; see ``ranking.rbo_batch``).

    Range (0, 1], exactly 1 for an ideal ranking; 0 for a group with no relevant passage. ``p`` is the
    persistence: the weight of depth d is (1−p)·p^(d−1), so p = 0.9 puts ~65% of the weight on the top 10.
    """

    name = "rbo"

    def __init__(self, paradigm: Any = "listwise", format_gate: str = "zero", parser=None, *, p: float = 0.9):
        super().__init__(paradigm, format_gate, parser)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p < 1.0:
            raise RankrlError(f"reward {self.name!r}: parameter p must be a number in (0, 1), got {p!r}")
        self.p = float(p)

    def params(self) -> dict[str, Any]:
        return {"p": self.p}

    def metric(self, orders: np.ndarray, grades: np.ndarray) -> np.ndarray:
        return ranking.rbo_batch(orders, grades, self.p)
