"""Elimination (IRanker): rank n candidates in n-1 rounds, each round dropping the least relevant one shown.

ulab-uiuc/IRanker@f32eb9eec753b69f4ba915a9dd9832601d5949b4:eval/eval_passage.py:process_batch shows all remaining
candidates, removes the one the model names, and repeats until one is left; the passages come out in reverse
order of elimination. Every query sends one prompt per round, so the engine batches round r of all queries into
one backend call: n-1 calls for a whole benchmark, each as large as the number of queries.

Here the first-stage top ``depth`` candidates are ranked (20 by default: 19 rounds per query); deeper candidates
keep their first-stage order below them. Each round's prompt lists the remaining candidates in first-stage order,
numbered 1..m (IRanker keeps each passage's original id). A failed parse drops the remaining candidate the first
stage ranks lowest (IRanker's script instead forces a fuzzy match onto some candidate), so a model whose every
answer fails returns the first-stage order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankrl.core.errors import ConfigError
from rankrl.eval.engine import Ranking, Response, StrategyRun
from rankrl.eval.progress import Plan
from rankrl.eval.strategies.base import PromptMaker


def _drop(response: Response, shown: list[str], make_prompt: PromptMaker) -> int:
    """The position to eliminate: the model's answer, or on a failed parse the first stage's lowest-ranked."""
    value = response.parsed.value if response.parsed.ok else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(shown):
        return max(range(len(shown)), key=lambda i: (make_prompt.rank(shown[i]), i))
    return value


@dataclass
class Elimination:
    """n-1 elimination rounds over the first-stage top ``depth`` candidates."""

    depth: int = 20
    name: str = "elimination"
    paradigm: str = "elimination"

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 2:
            raise ConfigError(f"elimination depth (--group-size) must be an integer >= 2, got {self.depth!r}")

    def settings(self) -> dict[str, Any]:
        return {"strategy": self.name, "depth": self.depth}

    def plan(self, n: int) -> Plan:
        """Exact: one prompt per eliminated candidate, one after the other (eval/progress.py)."""
        calls = max(min(n, self.depth) - 1, 0)
        return Plan(rounds=calls, prompts=calls)

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        remaining = list(docids[: self.depth])
        eliminated: list[str] = []
        while len(remaining) > 1:
            (response,) = yield [make_prompt(remaining)]
            eliminated.append(remaining.pop(_drop(response, remaining, make_prompt)))
        return Ranking(order=remaining + eliminated[::-1] + list(docids[self.depth:]))
