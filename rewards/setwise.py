"""Setwise reward (Rank-R1): did the model pick a passage with the group's top grade?"""

from __future__ import annotations

from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.rewards.base import Reward, Row


class SetwiseChoice(Reward):
    """1 if the chosen passage has the group's top grade (several passages may share it), else 0.

    0 for a group with no relevant passage (every pick would be "top", so there is nothing to learn).
    """

    name = "setwise_choice"
    paradigms = ("setwise",)

    def score(self, rows: list[Row], kwargs: dict[str, Any]) -> dict[int, float]:
        out: dict[int, float] = {}
        for r in rows:
            pick = r.parsed.value
            if isinstance(pick, bool) or not isinstance(pick, int) or not 0 <= pick < r.n:
                raise RankrlError(
                    f"reward {self.name!r}: row {r.index} has {r.n} grades in column 'relevance' but the parsed "
                    f"pick is passage index {pick!r}; 'relevance' must be aligned with the passages shown"
                )
            top = max(r.grades)
            out[r.index] = 1.0 if top > 0 and r.grades[pick] == top else 0.0
        return out
