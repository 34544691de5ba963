"""What strategies share: building a prompt for a set of candidates, and running sub-machines side by side."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rankrl.eval.backends.base import Prompt
from rankrl.eval.engine import Ranking, Response, StrategyRun

Fit = Callable[[str, Sequence[Any]], list[dict[str, str]]]
"""(query, passages) -> prompt messages, truncating passages to the prompt budget. A passage is a string or a
record with ``text`` and ``title`` (``rankrl.data.records.Passage``): the template writes the title."""


@dataclass
class PromptMaker:
    """Builds the prompts of one query (one repeat) with stable ids ``qid#repeat/n`` (n counts prompts in order).

    The ids are deterministic because strategies are: a resumed run numbers its prompts identically.
    """

    qid: str
    query: str
    passages: Mapping[str, Any]
    fit: Fit
    repeat: int = 0
    sample: int = 0
    prior: Mapping[str, int] | None = None
    """First-stage rank of each candidate (0 = best): the deterministic fallback when a parse fails."""
    """Sample number for every prompt of this run (repeats sample anew when decoding is not greedy)."""
    _count: int = field(default=0, init=False)

    def rank(self, docid: str) -> int:
        return self.prior.get(docid, 1 << 30) if self.prior is not None else 0

    def __call__(self, docids: Sequence[str]) -> Prompt:
        messages = self.fit(self.query, [self.passages[d] for d in docids])
        prompt_id = f"{self.qid}#{self.repeat}/{self._count}"
        self._count += 1
        return Prompt.build(prompt_id, self.qid, messages, docids, sample=self.sample)


class Strategy(Protocol):
    """A reranking strategy: one state machine per query."""

    name: str
    paradigm: str

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun: ...

    def settings(self) -> dict[str, Any]: ...


def lockstep(machines: Sequence[StrategyRun]) -> StrategyRun:
    """Run independent sub-machines in parallel: each round carries one step of every one still running.

    Returns a Ranking-less result (None); used for work whose steps do not depend on each other, such as
    sifting down heap nodes of one level (their subtrees are disjoint).
    """
    active: list[tuple[StrategyRun, list[Prompt]]] = []
    for machine in machines:
        try:
            active.append((machine, next(machine)))
        except StopIteration:
            pass
    while active:
        batch = [p for _, prompts in active for p in prompts]
        responses: list[Response] = yield batch
        still: list[tuple[StrategyRun, list[Prompt]]] = []
        offset = 0
        for machine, prompts in active:
            part = responses[offset:offset + len(prompts)]
            offset += len(prompts)
            try:
                still.append((machine, machine.send(part)))
            except StopIteration:
                pass
        active = still
    return None  # type: ignore[return-value]


def ranking_from_scores(docids: Sequence[str], scores: Mapping[str, float]) -> Ranking:
    """Order by descending score; ties keep the given (first-stage) order."""
    position = {d: i for i, d in enumerate(docids)}
    order = sorted(docids, key=lambda d: (-scores[d], position[d]))
    return Ranking(order=order, scores={d: float(scores[d]) for d in docids})


def fill_missing(docids: Sequence[str], scores: Mapping[str, float]) -> tuple[dict[str, float], int]:
    """Give passages without a parsed score the mean of the query's parsed scores (0.0 when none parsed).

    The neutral fill keeps a failed parse from pushing a passage to either end; when nothing parsed every
    passage ties and the first-stage order stays. Returns (scores, number filled).
    """
    known = [scores[d] for d in docids if d in scores]
    fill = sum(known) / len(known) if known else 0.0
    out = {d: float(scores.get(d, fill)) for d in docids}
    return out, sum(1 for d in docids if d not in scores)
