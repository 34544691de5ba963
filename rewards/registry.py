"""Reward names → classes, and the recipe entry point ``build_rewards``.

A recipe lists rewards as ``rewards: [{name: listwise_ndcg, weight: 1.0, k: 10}, {name: format, weight: 0.2}]``;
``build_rewards`` turns that list into TRL's ``reward_funcs`` and ``reward_weights``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from rankrl.core.errors import ConfigError, RankrlError, unknown_name
from rankrl.rewards.base import CachedParser, Reward, check_format_gate, resolve_paradigm
from rankrl.rewards.format import FormatReward
from rankrl.rewards.groupwise import Distributional, GroupwiseNDCG
from rankrl.rewards.iranker import IRankerElimination
from rankrl.rewards.listwise import RBO, ListwiseDeltaNDCG, ListwiseNDCG, Recall
from rankrl.rewards.pointwise import PointwiseAccuracy, PointwiseListwise
from rankrl.rewards.rank_r1 import RankR1Choice
from rankrl.rewards.rearank import RearankDeltaNDCG
from rankrl.rewards.reasonrank import ReasonRankMultiView
from rankrl.rewards.setwise import SetwiseChoice

REWARDS: Mapping[str, type[Reward]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            FormatReward,
            SetwiseChoice,
            ListwiseNDCG,
            ListwiseDeltaNDCG,
            Recall,
            RBO,
            PointwiseAccuracy,
            PointwiseListwise,
            GroupwiseNDCG,
            Distributional,
            # published rules, reproduced exactly (rewards.rank_r1, .reasonrank, .iranker, .rearank)
            RankR1Choice,
            ReasonRankMultiView,
            IRankerElimination,
            RearankDeltaNDCG,
        )
    }
)


def reward_params(name: str) -> tuple[str, ...]:
    """The keyword parameters a reward takes (besides paradigm and format_gate)."""
    cls = _reward_class(name)
    sig = inspect.signature(cls.__init__)
    return tuple(p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _reward_class(name: str) -> type[Reward]:
    if name not in REWARDS:
        raise unknown_name("reward", name, tuple(REWARDS))
    return REWARDS[name]


def get_reward(
    name: str,
    paradigm: Any = "listwise",
    format_gate: str = "zero",
    *,
    parser: CachedParser | None = None,
    **params: Any,
) -> Reward:
    """A picklable reward callable with TRL's signature ``f(completions, **columns) -> list[float | None]``.

    ``paradigm`` is a paradigm name or a ``prompts`` paradigm object (for a non-default template, e.g.
    ``prompts.get_paradigm("pointwise", template="pointwise-binary")``). Unknown names or parameters raise a
    ``RankrlError`` listing the valid choices.
    """
    cls = _reward_class(name)
    valid = reward_params(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(
            f"reward {name!r} has no parameter {', '.join(unknown)}; "
            f"its parameters: {', '.join(valid) if valid else 'none'}"
        )
    return cls(resolve_paradigm(paradigm), check_format_gate(format_gate), parser, **params)


def _weight(spec: Mapping[str, Any], where: str) -> float:
    weight = spec.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise ConfigError(f"{where}: weight must be a finite number, got {weight!r}")
    return float(weight)


def build_rewards(
    specs: Sequence[Mapping[str, Any]],
    paradigm: Any,
    format_gate: str,
    *,
    grade_max: float | None = None,
) -> tuple[list[Reward], list[float]]:
    """Rewards and weights for TRL's ``GRPOTrainer(reward_funcs=..., args.reward_weights=...)``.

    ``specs``: ``[{"name": ..., "weight": ..., **params}, ...]``. ``grade_max`` (the training data's largest
    grade) is given to every reward that takes it unless its spec sets its own. All rewards share one parse
    cache, so each completion is parsed once per step however many rewards read it. When two specs share a
    name, their metric names get their parameters appended (``recall_k20``) so TRL logs them apart.
    """
    if isinstance(specs, (str, bytes)) or not isinstance(specs, Sequence) or not specs:
        raise ConfigError(
            f"rewards must be a non-empty list of {{name: ..., weight: ...}} entries, got {specs!r}"
        )
    paradigm = resolve_paradigm(paradigm)
    check_format_gate(format_gate)
    parser = CachedParser(paradigm)
    funcs: list[Reward] = []
    weights: list[float] = []
    for i, spec in enumerate(specs):
        where = f"rewards[{i}]"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise ConfigError(f"{where}: each reward must be a mapping with a 'name', got {spec!r}")
        params = {k: v for k, v in spec.items() if k not in ("name", "weight")}
        try:
            if grade_max is not None and "grade_max" in reward_params(spec["name"]):
                params.setdefault("grade_max", grade_max)
            funcs.append(get_reward(spec["name"], paradigm, format_gate, parser=parser, **params))
        except RankrlError as err:
            raise ConfigError(f"{where}: {err}") from None
        weights.append(_weight(spec, where))
    _distinct_names(funcs, specs)
    return funcs, weights


def _distinct_names(funcs: list[Reward], specs: Sequence[Mapping[str, Any]]) -> None:
    names = [f.name for f in funcs]
    for f, spec in zip(funcs, specs):
        if names.count(f.name) > 1:
            given = {k: v for k, v in spec.items() if k not in ("name", "weight")}
            suffix = "_".join(f"{k}{v}" for k, v in sorted(given.items()))
            f.__name__ = f"{f.name}_{suffix}" if suffix else f.name
    seen = [f.__name__ for f in funcs]
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise ConfigError(f"rewards: {', '.join(dupes)} listed more than once with the same parameters")
