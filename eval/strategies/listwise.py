"""Listwise sliding window (RankGPT, REARANK, ReasonRank): rank windows of w passages from the bottom up.

Windows [n-w, n), [n-w-s, n-s), … down to one starting at 0 (the last window is clipped to start at 0, so the top
passages are always reranked with what was carried up). With stride s < w, the best w-s passages of each window move
into the next one, so with a perfect model the top w-s of the whole list come out right after one pass.
``passes`` repeats the sweep. A failed parse keeps that window's order; a repaired permutation is used as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rankrl.core.errors import ConfigError
from rankrl.eval.engine import Ranking, StrategyRun
from rankrl.eval.strategies.base import PromptMaker


def windows(n: int, window: int, stride: int) -> list[tuple[int, int]]:
    """The (start, end) windows of one back-to-front sweep over n candidates."""
    if n <= 0:
        return []
    out = []
    end = n
    while True:
        start = max(end - window, 0)
        out.append((start, end))
        if start == 0:
            return out
        end -= stride


@dataclass
class ListwiseSlidingWindow:
    window: int = 20
    stride: int = 10
    passes: int = 1
    name: str = "listwise"
    paradigm: str = "listwise"

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ConfigError(f"--window must be >= 2, got {self.window}")
        if not 1 <= self.stride <= self.window - 1:
            raise ConfigError(f"--stride must be between 1 and window-1 ({self.window - 1}), got {self.stride}")
        if self.passes < 1:
            raise ConfigError(f"--passes must be >= 1, got {self.passes}")

    def settings(self) -> dict[str, Any]:
        return {"strategy": "listwise", "window": self.window, "stride": self.stride, "passes": self.passes}

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        arr = list(docids)
        if len(arr) < 2:
            return Ranking(order=arr)
        for _ in range(self.passes):
            for start, end in windows(len(arr), self.window, self.stride):
                shown = arr[start:end]
                (response,) = yield [make_prompt(shown)]
                perm = response.parsed.value if response.parsed.ok else None
                if _is_permutation(perm, len(shown)):
                    arr[start:end] = [shown[i] for i in perm]
        return Ranking(order=arr)


def _is_permutation(value: Any, n: int) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == n and sorted(value) == list(range(n))
