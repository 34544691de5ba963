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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankrl.core.errors import ConfigError
from rankrl.eval.engine import Ranking, Response, StrategyRun
from rankrl.eval.strategies.base import PromptMaker, lockstep


def _pick(response: Response, shown: list[str], make_prompt: PromptMaker) -> int:
    """The model's pick, or on a failed parse the passage the first stage ranks highest (ties: shown first)."""
    value = response.parsed.value if response.parsed.ok else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(shown):
        return min(range(len(shown)), key=lambda i: (make_prompt.rank(shown[i]), i))
    return value


@dataclass
class _SetwiseSort:
    """What both setwise sorts share: c children per comparison (c + 1 passages shown), the top k wanted."""

    num_child: int = 19
    k: int = 10
    name: str = "setwise"
    paradigm: str = "setwise"
    sort: str = ""

    def __post_init__(self) -> None:
        if self.num_child < 1:
            raise ConfigError(f"--num-child must be >= 1, got {self.num_child}")
        if self.k < 1:
            raise ConfigError(f"--k must be >= 1, got {self.k}")

    def settings(self) -> dict[str, Any]:
        return {"strategy": "setwise", "sort": self.sort, "num_child": self.num_child, "k": self.k}


@dataclass
class SetwiseHeapsort(_SetwiseSort):
    sort: str = "heapsort"

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        arr = list(docids)
        n, c = len(arr), self.num_child

        def sift(i: int, size: int) -> StrategyRun:
            while True:
                children = list(range(c * i + 1, min(c * i + c + 1, size)))
                if not children:
                    return None  # type: ignore[return-value]
                group = [i, *children]
                shown = [arr[j] for j in group]
                (response,) = yield [make_prompt(shown)]
                best = group[_pick(response, shown, make_prompt)]
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

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        arr = list(docids)
        n, size = len(arr), self.num_child + 1
        for i in range(min(self.k, n - 1)):
            end = n
            start = max(end - size, i)
            while True:
                group = arr[start:end]
                (response,) = yield [make_prompt(group)]
                best = _pick(response, group, make_prompt)
                winner = arr.pop(start + best)
                arr.insert(start, winner)
                if start == i:
                    break
                end = start + 1
                start = max(start - self.num_child, i)
        return Ranking(order=arr)
