"""rankrl rewards: TRL reward functions for the four ranking paradigms.

``get_reward(name, paradigm, format_gate, **params)`` returns one reward; ``build_rewards(specs, paradigm,
format_gate)`` turns a recipe's reward list into ``(reward_funcs, reward_weights)``. ``REWARDS`` lists them.
The ranking math (nDCG, ΔnDCG, recall, RBO) lives in ``rewards.ranking``.
"""

from rankrl.rewards.base import FORMAT_GATES, CachedParser, Reward, failure_value
from rankrl.rewards.registry import REWARDS, build_rewards, get_reward, reward_params

__all__ = [
    "FORMAT_GATES",
    "REWARDS",
    "CachedParser",
    "Reward",
    "build_rewards",
    "failure_value",
    "get_reward",
    "reward_params",
]
