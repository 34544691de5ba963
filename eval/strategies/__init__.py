"""Inference strategies, one per paradigm (setwise has two sorts)."""

from __future__ import annotations

from typing import Any

from rankrl.core.errors import ConfigError, unknown_name
from rankrl.eval.strategies.base import PromptMaker, Strategy, lockstep
from rankrl.eval.strategies.groupwise import Groupwise
from rankrl.eval.strategies.listwise import ListwiseSlidingWindow, windows
from rankrl.eval.strategies.pointwise import Pointwise, expected_score
from rankrl.eval.strategies.setwise import SetwiseBubblesort, SetwiseHeapsort

STRATEGIES = ("setwise", "listwise", "pointwise", "groupwise")
SETWISE_SORTS = ("heapsort", "bubblesort")

FITS: dict[str, tuple[str, ...]] = {name: (name,) for name in STRATEGIES}
"""strategy -> paradigms whose answers it can use (a setwise pick, a permutation, a score, a score vector)."""


def check_fit(strategy: str, paradigm: str) -> None:
    """Refuse a strategy the paradigm's answers cannot drive."""
    if strategy not in STRATEGIES:
        raise unknown_name("strategy", strategy, STRATEGIES)
    if paradigm not in FITS[strategy]:
        raise ConfigError(
            f"strategy {strategy!r} does not fit the {paradigm!r} paradigm (it needs {', '.join(FITS[strategy])} "
            f"answers); use --strategy {paradigm}, or --paradigm to override the checkpoint's paradigm")


def build_strategy(name: str, *, sort: str = "heapsort", num_child: int = 19, k: int = 10, window: int = 20,
                   stride: int = 10, passes: int = 1, group_size: int = 20, expected_score: bool = True,
                   score_range: tuple[float, float] = (0.0, 10.0), **_: Any) -> Strategy:
    """Build a strategy from CLI-style settings (extra keys are ignored so one settings dict serves all)."""
    if name == "setwise":
        if sort not in SETWISE_SORTS:
            raise unknown_name("setwise sort", sort, SETWISE_SORTS)
        cls = SetwiseHeapsort if sort == "heapsort" else SetwiseBubblesort
        return cls(num_child=num_child, k=k)
    if name == "listwise":
        return ListwiseSlidingWindow(window=window, stride=stride, passes=passes)
    if name == "pointwise":
        return Pointwise(expected=expected_score, low=score_range[0], high=score_range[1])
    if name == "groupwise":
        return Groupwise(group_size=group_size)
    raise unknown_name("strategy", name, STRATEGIES)


__all__ = [
    "FITS",
    "SETWISE_SORTS",
    "STRATEGIES",
    "Groupwise",
    "ListwiseSlidingWindow",
    "Pointwise",
    "PromptMaker",
    "SetwiseBubblesort",
    "SetwiseHeapsort",
    "Strategy",
    "build_strategy",
    "check_fit",
    "expected_score",
    "lockstep",
    "windows",
]
