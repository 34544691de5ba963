"""Listwise sliding window (RankGPT, REARANK, ReasonRank): rank windows of w passages from the bottom up.

Windows [n-w, n), [n-w-s, n-s), … down to one starting at 0 (the last window is clipped to start at 0, so the top
passages are always reranked with what was carried up). With stride s < w, the best w-s passages of each window move
into the next one, so with a perfect model the top w-s of the whole list come out right after one pass.
``passes`` repeats the sweep. A failed parse keeps that window's order; a repaired permutation is used as given.

First-token scoring (``first_token=True``, FIRST as castorini/rank_llm @1b3cabb implements it,
``rank_listwise_os_llm.py`` ``_evaluate_logits``): a window is ordered by the log-probabilities of the identifiers at
the first generated position that writes one (the ``1`` of ``[1] > …``), best first; an identifier seen several
times keeps its highest log-probability, identifiers missing from the top alternatives follow in shown order (as
rank_llm's permutation repair appends them). With digit-splitting tokenizers only 1–9 are single tokens, as in
rank_llm's numeric mode. When the backend returned no such position, the parsed answer is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankrl.core.fields import FieldError
from rankrl.eval.engine import Ranking, StrategyRun
from rankrl.eval.progress import Plan
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
    first_token: bool = False
    """Order each window by the first identifier's logits (FIRST) instead of the parsed answer."""
    name: str = "listwise"
    paradigm: str = "listwise"

    def __post_init__(self) -> None:
        if self.window < 2:
            raise FieldError("window", f"must be >= 2, got {self.window}")
        if not 1 <= self.stride <= self.window - 1:
            raise FieldError("stride", f"must be between 1 and window-1 ({self.window - 1}), got {self.stride}")
        if self.passes < 1:
            raise FieldError("passes", f"must be >= 1, got {self.passes}")

    @property
    def wants_logprobs(self) -> bool:
        return self.first_token

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": "listwise", "window": self.window, "stride": self.stride,
                               "passes": self.passes}
        if self.first_token:
            out["scoring"] = "first-token"
        return out

    def plan(self, n: int) -> Plan:
        """Exact: the windows do not depend on the answers (eval/progress.py)."""
        calls = self.passes * len(windows(n, self.window, self.stride)) if n >= 2 else 0
        return Plan(rounds=calls, prompts=calls)

    def run(self, make_prompt: PromptMaker, docids: list[str]) -> StrategyRun:
        arr = list(docids)
        if len(arr) < 2:
            return Ranking(order=arr)
        for _ in range(self.passes):
            for start, end in windows(len(arr), self.window, self.stride):
                shown = arr[start:end]
                (response,) = yield [make_prompt(shown)]
                perm = response.parsed.value if response.parsed.ok else None
                if self.first_token:
                    perm = first_token_order(response.generation.answer_logprobs, len(shown)) or perm
                if _is_permutation(perm, len(shown)):
                    arr[start:end] = [shown[i] for i in perm]
        return Ranking(order=arr)


def _is_permutation(value: Any, n: int) -> bool:
    return isinstance(value, (list, tuple)) and len(value) == n and sorted(value) == list(range(n))


def first_token_order(positions: Sequence[tuple[str, dict[str, float]]] | None, n: int) -> list[int] | None:
    """FIRST's order of a window of ``n`` from the logprobs of the first generated positions: the first position
    whose chosen token is an identifier 1..n, its alternatives that are identifiers by descending log-probability,
    then the missing ones in shown order. None when no position writes an identifier."""
    for chosen, top in positions or []:
        if _identifier(chosen, n) is None:
            continue
        best: dict[int, float] = {}
        for token, logprob in top.items():
            ident = _identifier(token, n)
            if ident is not None and logprob > best.get(ident, float("-inf")):
                best[ident] = logprob
        ranked = sorted(best, key=lambda i: -best[i])
        return [i - 1 for i in ranked] + [i for i in range(n) if i + 1 not in best]
    return None


def _identifier(token: str, n: int) -> int | None:
    text = token.strip()
    if not text.isdigit() or not text.isascii() or len(text) > 4:
        return None
    value = int(text)
    return value if 1 <= value <= n else None
