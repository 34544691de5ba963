"""Groupwise reranking (GroupRank): score groups of g passages in one prompt each, all groups in one round.

The candidates (in the order this run received them) are cut into consecutive groups of g; the last group holds
the remainder. Each passage's score is the one the model gave it in its group. Test-time repeats (``--repeats``)
rerun this on shuffled candidate orders, so each passage is scored in r different groups, merged by mean score.
A failed parse leaves that group's passages unscored: they get the mean of the query's parsed scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rankrl.core.fields import FieldError
from rankrl.eval.engine import Ranking, StrategyRun
from rankrl.eval.progress import Plan
from rankrl.eval.strategies.base import PromptMaker, fill_missing, ranking_from_scores


@dataclass
class Groupwise:
    group_size: int = 20
    name: str = "groupwise"
    paradigm: str = "groupwise"

    def __post_init__(self) -> None:
        if self.group_size < 1:
            raise FieldError("group_size", f"must be >= 1, got {self.group_size}")

    def settings(self) -> dict[str, Any]:
        return {"strategy": "groupwise", "group_size": self.group_size}

    def plan(self, n: int) -> Plan:
        """Exact: one round, one prompt per group (eval/progress.py)."""
        return Plan(rounds=1 if n else 0, prompts=-(-n // self.group_size))

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        if not docids:
            return Ranking(order=[])
        groups = [docids[i:i + self.group_size] for i in range(0, len(docids), self.group_size)]
        responses = yield [make_prompt(group) for group in groups]
        scores: dict[str, float] = {}
        for group, response in zip(groups, responses):
            values = response.parsed.value if response.parsed.ok else None
            if not isinstance(values, (list, tuple)) or len(values) != len(group):
                continue
            for docid, value in zip(group, values):
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    scores[docid] = float(value)
        filled, _ = fill_missing(docids, scores)
        return ranking_from_scores(docids, filled)
