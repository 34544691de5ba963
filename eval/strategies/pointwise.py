"""Pointwise reranking (ERank, Rank1): one prompt per candidate, sort by score; all prompts go out in one round.

With logprobs from the backend the score is the expected value over the score tokens at the answer's first token
(``E[s] = Σ_v v·p(v) / Σ_v p(v)`` over the top alternatives that read as a score in range), which breaks the many
ties of integer scores. Tokenizers that split digits write "10" as "1" + "0": when the completion did that, the
mass of "1" is split between 10 and 1 by p("0" | "1") at the next position (otherwise "1" counts as 1).
true/false (and yes/no) answers read as 1/0. Without logprobs, or when no alternative reads as a score, the parsed
score is used. A failed parse leaves the passage unscored: it gets the mean of the query's parsed scores.

``probability=True`` is ERank's ranking score (arXiv 2509.00520, Section 3.2): the parsed integer s times the
probability of the token that writes s at the answer's score position, ``s · p(s)`` (a "10" written "1" + "0" has
p("1") · p("0" | "1")); without logprobs the parsed score is used.
Rank1's true/false protocol arrives here as the two log-probabilities of the true and false tokens
(``backends.protocols``), so the expected score over {true: 1, false: 0} is p(true)/(p(true)+p(false)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankrl.core.errors import ConfigError
from rankrl.eval.engine import Ranking, Response, StrategyRun
from rankrl.eval.progress import Plan
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
    """Expected score from the logprobs after ``<answer>``, at the first kept position whose token reads as a
    score (``<answer> 7``, ``<answer>Score: 7``); None when no position does."""
    if not answer_logprobs:
        return None
    idx = score_position(answer_logprobs)
    if idx is None:
        return None
    chosen, top = answer_logprobs[idx]
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


def score_position(answer_logprobs: Sequence[tuple[str, dict[str, float]]]) -> int | None:
    """The first kept answer position whose chosen token reads as a score: where the score appears."""
    return next((i for i, (tok, _) in enumerate(answer_logprobs) if token_value(tok) is not None), None)


def score_probability(answer_logprobs: Sequence[tuple[str, dict[str, float]]] | None,
                      score: float) -> float | None:
    """ERank's ``s · p(s)``: ``score`` times the probability of writing it where the score appears in the answer
    (a two-token "10" multiplies both positions). None when the logprobs do not show the score's token."""
    if not answer_logprobs or not float(score).is_integer():
        return None
    idx = score_position(answer_logprobs)
    if idx is None:
        return None
    digits = str(int(score))
    chosen, top = answer_logprobs[idx]
    if chosen.strip() == digits:
        p = sum(math.exp(lp) for t, lp in top.items() if t.strip() == digits)
        return score * p if p > 0 else None
    if len(digits) == 2 and chosen.strip() == digits[0] and idx + 1 < len(answer_logprobs):
        nxt, nxt_top = answer_logprobs[idx + 1]
        if nxt.strip() == digits[1]:
            p1 = sum(math.exp(lp) for t, lp in top.items() if t.strip() == digits[0])
            p2 = sum(math.exp(lp) for t, lp in nxt_top.items() if t.strip() == digits[1])
            return score * p1 * p2 if p1 * p2 > 0 else None
    return None


@dataclass
class Pointwise:
    expected: bool = True
    """Use the expected score when the backend returned logprobs."""
    low: float = 0.0
    high: float = 10.0
    probability: bool = False
    """ERank's s · p(s) instead of the expected score (needs logprobs)."""
    name: str = "pointwise"
    paradigm: str = "pointwise"

    def __post_init__(self) -> None:
        if self.low >= self.high:
            raise ConfigError(f"pointwise score range must have low < high, got {self.low}..{self.high}")

    @property
    def wants_logprobs(self) -> bool:
        """Ask the backend for answer-token logprobs (the expected score needs them)."""
        return self.expected or self.probability

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": "pointwise", "expected_score": self.expected,
                               "score_range": [self.low, self.high]}
        if self.probability:
            out["scoring"] = "score-probability"
        return out

    def score(self, response: Response) -> float | None:
        parsed = response.parsed
        if not parsed.ok or isinstance(parsed.value, bool) or not isinstance(parsed.value, (int, float)):
            return None
        if self.probability:
            value = score_probability(response.generation.answer_logprobs, float(parsed.value))
            if value is not None:
                return value
        elif self.expected:
            value = expected_score(response.generation.answer_logprobs, self.low, self.high)
            if value is not None:
                return value
        return float(parsed.value)

    def plan(self, n: int) -> Plan:
        """Exact: one round, one prompt per candidate (eval/progress.py)."""
        return Plan(rounds=1 if n else 0, prompts=n)

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
