"""Setwise reranking (Rank-R1): the model picks the most relevant of a small set; sorting is built on that pick.

Heapsort: a c-ary max-heap over the candidates (node i has children c*i+1 … c*i+c); sifting node i down asks
"which is best of [node, its children]" (one prompt of up to c+1 passages). The heap is built bottom-up; nodes of one
depth have disjoint subtrees, so they are sifted in parallel (same result as one at a time, fewer rounds). Then
the root is extracted k times; after the k-th extraction no further sift is needed. Top-k come first (best first),
the other candidates follow in their incoming (first-stage) order: the heap's array order is only a partial order.

Bubble sort: k passes; each pass slides a window of c+1 passages from the bottom of the unsorted part to its top,
carrying the window's winner up, so pass i fixes position i.

A failed parse picks the current best, deterministically: the passage of the prompt that the first stage ranks
highest (in the heap's build phase that is the parent, which then stays; in bubble sort usually the carried winner).
If every parse fails, both sorts return the first-stage order.

Shuffled comparisons (``shuffle=True``, Rank-R1's ``R1SetwiseLlmRanker.compare`` in ielab/llm-rankers @3b988fa,
``Rank-R1/run_setwise.py``): every comparison shows its passages in a random order (labels stay ``[1]``…``[n]``), and
with ``permutations=N`` it asks N differently shuffled prompts (one round) and takes the passage most of the
answers pick; a tie is broken by a random choice among the tied passages, listed in the order their first vote
came (``Counter``'s order); answers that do not parse cast no vote, and with no vote at all the failed-parse rule
above applies. The published code draws every shuffle from one global ``random.Random(929)`` over a sequential
run; a batched engine cannot follow that sequence, so each comparison is seeded from (seed, query, repeat,
comparison number): reproducible, and the same whatever the batching. With ``shuffle=False`` and one permutation
the sorts make exactly llm-rankers' calls.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from rankrl.core.fields import FieldError
from rankrl.eval.engine import Ranking, Response, StrategyRun
from rankrl.eval.progress import Plan
from rankrl.eval.strategies.base import PromptMaker, lockstep


def _pick(response: Response, shown: list[str], make_prompt: PromptMaker) -> int:
    """The model's pick, or on a failed parse the passage the first stage ranks highest (ties: shown first)."""
    value = response.parsed.value if response.parsed.ok else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(shown):
        return min(range(len(shown)), key=lambda i: (make_prompt.rank(shown[i]), i))
    return value


def vote(picks: list[int | None], rng: random.Random) -> int | None:
    """The most voted index (None: no vote); ties broken by ``rng.choice`` over the tied indices in the order of
    their first vote, as llm-rankers does."""
    votes = Counter(p for p in picks if p is not None)
    if not votes:
        return None
    top = max(votes.values())
    tied = [p for p, count in votes.items() if count == top]
    return tied[0] if len(tied) == 1 else rng.choice(tied)


@dataclass
class _SetwiseSort:
    """What both setwise sorts share: c children per comparison (c + 1 passages shown), the top k wanted, and
    optionally shuffled comparisons voted over several permutations."""

    num_child: int = 19
    k: int = 10
    shuffle: bool = False
    permutations: int = 1
    seed: int = 0
    name: str = "setwise"
    paradigm: str = "setwise"
    sort: str = ""

    def __post_init__(self) -> None:
        if self.num_child < 1:
            raise FieldError("num_child", f"must be >= 1, got {self.num_child}")
        if self.k < 1:
            raise FieldError("k", f"must be >= 1, got {self.k}")
        if self.permutations < 1:
            raise FieldError("permutations", f"must be >= 1, got {self.permutations}")
        if self.permutations > 1 and not self.shuffle:
            raise FieldError("permutations", "> 1 votes over differently shuffled prompts: it needs "
                                             "shuffle_comparisons")

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": "setwise", "sort": self.sort, "num_child": self.num_child, "k": self.k}
        if self.shuffle:
            out.update(shuffle_comparisons=True, permutations=self.permutations, seed=self.seed)
        return out

    def compare(self, shown: list[str], make_prompt: PromptMaker, number: int) -> StrategyRun:
        """One comparison: yields its prompt(s) and returns the index (into ``shown``) of the chosen passage."""
        if not self.shuffle:
            (response,) = yield [make_prompt(shown)]
            return _pick(response, shown, make_prompt)
        rng = random.Random(f"rankrl-setwise:{self.seed}:{make_prompt.qid}:{make_prompt.repeat}:{number}")
        orders = [rng.sample(range(len(shown)), len(shown)) for _ in range(self.permutations)]
        responses = yield [make_prompt([shown[j] for j in order]) for order in orders]
        picks: list[int | None] = []
        for order, response in zip(orders, responses):
            value = response.parsed.value if response.parsed.ok else None
            ok = not isinstance(value, bool) and isinstance(value, int) and 0 <= value < len(order)
            picks.append(order[value] if ok else None)
        winner = vote(picks, rng)
        if winner is None:
            return min(range(len(shown)), key=lambda i: (make_prompt.rank(shown[i]), i))
        return winner


@dataclass
class SetwiseHeapsort(_SetwiseSort):
    sort: str = "heapsort"

    def plan(self, n: int) -> Plan:
        """An upper bound (a sift stops as soon as the parent wins): heapify level by level in lockstep, each
        node sifting at most to the bottom, then k-1 sifts from the root (eval/progress.py)."""
        c = self.num_child

        def depth(i: int) -> int:
            d = 0
            while i > 0:
                i, d = (i - 1) // c, d + 1
            return d

        if n < 2:
            return Plan(0, 0)
        height = depth(n - 1)
        internal = [i for i in range(n) if c * i + 1 < n]
        levels = {depth(i) for i in internal}
        rounds = sum(height - d for d in levels) + (min(self.k, n - 1) - 1) * height
        prompts = sum(height - depth(i) for i in internal) + (min(self.k, n - 1) - 1) * height
        return Plan(rounds=rounds, prompts=prompts * self.permutations, exact=False)

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        arr = list(docids)
        n, c = len(arr), self.num_child
        counter = [0]

        def sift(i: int, size: int) -> StrategyRun:
            while True:
                children = list(range(c * i + 1, min(c * i + c + 1, size)))
                if not children:
                    return None  # type: ignore[return-value]
                group = [i, *children]
                shown = [arr[j] for j in group]
                counter[0] += 1
                best = group[(yield from self.compare(shown, make_prompt, counter[0]))]
                if best == i:
                    return None  # type: ignore[return-value]
                arr[i], arr[best] = arr[best], arr[i]
                i = best

        def depth(i: int) -> int:
            d = 0
            while i > 0:
                i = (i - 1) // c
                d += 1
            return d

        internal = [i for i in range(n) if c * i + 1 < n]
        by_depth: dict[int, list[int]] = {}
        for i in internal:
            by_depth.setdefault(depth(i), []).append(i)
        for d in sorted(by_depth, reverse=True):
            yield from lockstep([sift(i, n) for i in sorted(by_depth[d], reverse=True)])
        top: list[str] = []
        for end in range(n - 1, 0, -1):
            arr[0], arr[end] = arr[end], arr[0]
            top.append(arr[end])
            if len(top) == self.k:
                break
            yield from sift(0, end)
        chosen = set(top)
        return Ranking(order=top + [d for d in docids if d not in chosen])


@dataclass
class SetwiseBubblesort(_SetwiseSort):
    sort: str = "bubblesort"

    def plan(self, n: int) -> Plan:
        """Exact: the windows of each pass do not depend on the answers (eval/progress.py)."""
        size, calls = self.num_child + 1, 0
        for i in range(min(self.k, n - 1)):
            start = max(n - size, i)
            calls += 1
            while start != i:
                start = max(start - self.num_child, i)
                calls += 1
        return Plan(rounds=calls, prompts=calls * self.permutations)

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        arr = list(docids)
        n, size = len(arr), self.num_child + 1
        number = 0
        for i in range(min(self.k, n - 1)):
            end = n
            start = max(end - size, i)
            while True:
                group = arr[start:end]
                number += 1
                best = yield from self.compare(group, make_prompt, number)
                winner = arr.pop(start + best)
                arr.insert(start, winner)
                if start == i:
                    break
                end = start + 1
                start = max(start - self.num_child, i)
        return Ranking(order=arr)
