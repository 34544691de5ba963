"""Inference strategies, one per paradigm (setwise has two sorts), built from typed ``StrategyOptions``.

Which strategy drives a paradigm is the paradigm's own knowledge (``paradigm.default_strategy``); this module maps
a strategy *name* to its class through each class's ``name`` attribute, so no code here switches on names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rankrl.core.errors import ConfigError, unknown_name
from rankrl.core.fields import FieldError, from_mapping
from rankrl.eval.strategies.base import PromptMaker, Strategy, lockstep
from rankrl.eval.strategies.elimination import Elimination
from rankrl.eval.strategies.groupwise import Groupwise
from rankrl.eval.strategies.listwise import ListwiseSlidingWindow, windows
from rankrl.eval.strategies.pointwise import Pointwise, expected_score
from rankrl.eval.strategies.setwise import SetwiseBubblesort, SetwiseHeapsort

SETWISE_SORTS = tuple(cls.sort for cls in (SetwiseHeapsort, SetwiseBubblesort))


@dataclass(frozen=True)
class StrategyOptions:
    """Settings of every strategy; each strategy reads the ones it has (the rest are ignored by design, so one
    options object serves whichever strategy the paradigm picks). Unknown names are refused by ``from_mapping``."""

    sort: str = field(default="heapsort", metadata={"help": "setwise sort: heapsort or bubblesort"})
    num_child: int = field(default=19, metadata={"help": "setwise: children per heap node (c)"})
    k: int = field(default=10, metadata={"help": "setwise: how many top passages to sort"})
    window: int = field(default=20, metadata={"help": "listwise: window size"})
    stride: int = field(default=10, metadata={"help": "listwise: window stride"})
    passes: int = field(default=1, metadata={"help": "listwise: back-to-front sweeps"})
    group_size: int = field(default=20, metadata={"help": "groupwise: passages per group; elimination: the "
                                                  "first-stage top candidates it ranks (n-1 rounds)"})
    expected_score: bool = field(default=True, metadata={"help": "pointwise: expected score from logprobs"})
    score_range: tuple[float, float] = field(default=(0.0, 10.0), metadata={"help": "pointwise: score scale"})
    shuffle_comparisons: bool = field(default=False, metadata={"help": "setwise: shuffle the passages of every "
                                                               "comparison (Rank-R1), seeded"})
    permutations: int = field(default=1, metadata={"help": "setwise: shuffled prompts per comparison, majority vote"})
    seed: int = field(default=0, metadata={"help": "setwise: seed of the comparison shuffles"})
    scoring: str = field(default="parse", metadata={"help": "how answers score: parse, true-false, first-token, "
                                                    "score-probability, expected-score (prompts.template)"})

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> StrategyOptions:
        """Options from a plain mapping; a misspelt name is a ``ConfigError`` naming it."""
        return from_mapping(cls, options, "strategy")


def _setwise(o: StrategyOptions) -> Strategy:
    sorts = {cls.sort: cls for cls in (SetwiseHeapsort, SetwiseBubblesort)}
    if o.sort not in sorts:
        raise FieldError("sort", f"must be one of {', '.join(SETWISE_SORTS)} (setwise sort), got {o.sort!r}")
    return sorts[o.sort](num_child=o.num_child, k=o.k, shuffle=o.shuffle_comparisons or o.permutations > 1,
                         permutations=o.permutations, seed=o.seed)


def _pointwise(o: StrategyOptions) -> Strategy:
    # true-false arrives as the logprobs of the two answers: its score is their expected value (p(true) share)
    expected = o.expected_score or o.scoring in ("expected-score", "true-false")
    return Pointwise(expected=expected, low=o.score_range[0], high=o.score_range[1],
                     probability=o.scoring == "score-probability")


_BUILDERS: dict[str, Callable[[StrategyOptions], Strategy]] = {
    SetwiseHeapsort.name: _setwise,
    ListwiseSlidingWindow.name: lambda o: ListwiseSlidingWindow(window=o.window, stride=o.stride, passes=o.passes,
                                                                first_token=o.scoring == "first-token"),
    Pointwise.name: _pointwise,
    Groupwise.name: lambda o: Groupwise(group_size=o.group_size),
    Elimination.name: lambda o: Elimination(depth=o.group_size),  # group_size: the candidates ranked (n-1 rounds)
}
STRATEGIES = tuple(_BUILDERS)

FITS: dict[str, tuple[str, ...]] = {name: (name,) for name in STRATEGIES}
"""strategy -> paradigms whose answers it can use (a setwise pick, a permutation, a score, a score vector)."""


def check_fit(strategy: str, paradigm: str) -> None:
    """Refuse a strategy the paradigm's answers cannot drive."""
    if strategy not in _BUILDERS:
        raise unknown_name("strategy", strategy, tuple(_BUILDERS))
    if paradigm not in FITS[strategy]:
        raise ConfigError(
            f"strategy {strategy!r} does not fit the {paradigm!r} paradigm (it needs {', '.join(FITS[strategy])} "
            f"answers); use strategy {paradigm}, or override the checkpoint's paradigm")


def build_strategy(name: str, options: StrategyOptions | None = None) -> Strategy:
    """The strategy ``name`` with ``options`` (defaults when None). Errors name the option's field."""
    if name not in _BUILDERS:
        raise unknown_name("strategy", name, tuple(_BUILDERS))
    if options is not None and not isinstance(options, StrategyOptions):
        raise ConfigError(f"strategy options must be StrategyOptions, got {type(options).__name__} (a mapping: "
                          f"StrategyOptions.from_mapping)")
    return _BUILDERS[name](options or StrategyOptions())


__all__ = [
    "FITS",
    "SETWISE_SORTS",
    "STRATEGIES",
    "Elimination",
    "Groupwise",
    "ListwiseSlidingWindow",
    "Pointwise",
    "PromptMaker",
    "SetwiseBubblesort",
    "SetwiseHeapsort",
    "Strategy",
    "StrategyOptions",
    "build_strategy",
    "check_fit",
    "expected_score",
    "lockstep",
    "windows",
]
