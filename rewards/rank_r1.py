"""Rank-R1's setwise reward, exactly as published.

Source: ielab/llm-rankers@fb7fe9d4daefcaaddbec039ee1878e5e4ef1acac:Rank-R1/train_grpo.py:reward_func_setwise
(unchanged since a5ee1a9; 192b6df and fb7fe9d only changed the batch size).

The rule: search the completion (``re.search``, dot matches newlines) for ``<think>`` + anything (lazy) +
``</think>`` + optional whitespace + ``<answer>`` + anything (lazy) + ``</answer>``; the reward is 1 when the first
such answer, stripped of surrounding whitespace, is exactly the label of the positive passage (``[3]``), and 0
otherwise (no match, or any other text). Consequences rankrl's ``setwise_choice`` does not share: ``3``, ``[3].``
and ``Document [3]`` get 0; text after ``</answer>``, a preamble before ``<think>``, or a second think/answer block
do not matter (the first match is read).

Rank-R1's groups hold exactly one positive (Rank-R1/create_dataset.py: 1 positive + 19 negatives), and its label is
that passage's ``[k]``. On rankrl rows the labels are the passages that carry the group's top grade (when it is
above 0): for a one-positive group that is the same single label; a group without a relevant passage gives 0.
"""

from __future__ import annotations

import re
from typing import Any

from rankrl.rewards.published import PublishedReward

_RULE = re.compile(r"<think>.*?</think>\s*<answer>(.*?)</answer>", re.DOTALL)


def top_labels(grades: list) -> set[str]:
    """``[k]`` labels (1-based) of the passages with the group's top grade; empty when no grade is above 0."""
    top = max(grades)
    if not top > 0:
        return set()
    return {f"[{i}]" for i, g in enumerate(grades, start=1) if g == top}


class RankR1Choice(PublishedReward):
    """1 when Rank-R1's pattern matches and the stripped answer is exactly a top passage's ``[k]``, else 0."""

    name = "rank_r1_choice"
    paradigms = ("setwise",)

    def rule(self, text: str, grades: list, docids: list[str] | None, row: int, kwargs: dict[str, Any]) -> float:
        match = _RULE.search(text)
        if match is None:
            return 0.0
        return 1.0 if match.group(1).strip() in top_labels(grades) else 0.0
