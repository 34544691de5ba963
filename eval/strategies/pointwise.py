"""Pointwise reranking (ERank, Rank1): one prompt per candidate, sort by score; all prompts go out in one round.

With logprobs from the backend the score is the expected value over the score tokens at the answer's first token
(``E[s] = Σ_v v·p(v) / Σ_v p(v)`` over the top alternatives that read as a score in range), which breaks the many
ties of integer scores. Tokenizers that split digits write "10" as "1" + "0": when the completion did that, the
mass of "1" is split between 10 and 1 by p("0" | "1") at the next position (otherwise "1" counts as 1).
true/false (and yes/no) answers read as 1/0. Without logprobs, or when no alternative reads as a score, the parsed
score is used. A failed parse leaves the passage unscored: it gets the mean of the query's parsed scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankrl.core.errors import ConfigError
from rankrl.eval.engine import Ranking, Response, StrategyRun
from rankrl.eval.strategies.base import PromptMaker, fill_missing, ranking_from_scores

_WORDS = {"true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}


def token_value(token: str) -> float | None:
    """The score a single answer token stands for, or None."""
    text = token.strip().lower()
    if text in _WORDS:
        return _WORDS[text]
    if text.isdigit() and len(text) <= 3:
        return float(int(text))
    return None


def expected_score(answer_logprobs: Sequence[tuple[str, dict[str, float]]] | None,
                   low: float = 0.0, high: float = 10.0) -> float | None:
    """Expected score from the logprobs after ``<answer>``; None when they do not describe a score."""
    if not answer_logprobs:
        return None
    idx = next((i for i, (tok, _) in enumerate(answer_logprobs) if tok.strip()), None)
    if idx is None:
        return None
    chosen, top = answer_logprobs[idx]
    if token_value(chosen) is None:
        return None
    split_ten = None
    if chosen.strip() == "1" and high >= 10 and idx + 1 < len(answer_logprobs):
        nxt_tok, nxt_top = answer_logprobs[idx + 1]
        if nxt_tok.strip() == "0":
            split_ten = sum(math.exp(lp) for t, lp in nxt_top.items() if t.strip() == "0")
    mass: dict[float, float] = {}
    for alt, logprob in top.items():
        value = token_value(alt)
        if value is None:
            continue
        p = math.exp(logprob)
        if value == 1.0 and split_ten is not None and alt.strip() == "1":
            mass[10.0] = mass.get(10.0, 0.0) + p * split_ten
            p *= 1.0 - split_ten
        if low <= value <= high:
            mass[value] = mass.get(value, 0.0) + p
    total = sum(mass.values())
    if total <= 0.0:
        return None
    return sum(v * p for v, p in mass.items()) / total


@dataclass
class Pointwise:
    expected: bool = True
    """Use the expected score when the backend returned logprobs."""
    low: float = 0.0
    high: float = 10.0
    name: str = "pointwise"
    paradigm: str = "pointwise"

    def __post_init__(self) -> None:
        if self.low >= self.high:
            raise ConfigError(f"pointwise score range must have low < high, got {self.low}..{self.high}")

    def settings(self) -> dict[str, Any]:
        return {"strategy": "pointwise", "expected_score": self.expected, "score_range": [self.low, self.high]}

    def score(self, response: Response) -> float | None:
        parsed = response.parsed
        if not parsed.ok or isinstance(parsed.value, bool) or not isinstance(parsed.value, (int, float)):
            return None
        if self.expected:
            value = expected_score(response.generation.answer_logprobs, self.low, self.high)
            if value is not None:
                return value
        return float(parsed.value)

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        if not docids:
            return Ranking(order=[])
        responses = yield [make_prompt([d]) for d in docids]
        scores = {}
        for docid, response in zip(docids, responses):
            value = self.score(response)
            if value is not None and math.isfinite(value):
                scores[docid] = value
        filled, _ = fill_missing(docids, scores)
        return ranking_from_scores(docids, filled)
