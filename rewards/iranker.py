"""IRanker's elimination reward and its two format terms, exactly as published.

Source: ulab-uiuc/IRanker@f32eb9eec753b69f4ba915a9dd9832601d5949b4:verl/utils/reward_score/exclusion_reward.py:
compute_score (with format_reward, tag_count_reward, extract_solution, exclude_reward), selected for the
``iterative_ranking`` data source by verl/trainer/main_ppo.py:_select_rm_score_fn at the same commit.

The rule for one text:

* **format term** (format_reward): 0 when ``re.match`` (DOTALL | MULTILINE) of any of
  ``^<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$`` and its three variants (``\\s`` in place of the
  ``\\n`` inside the think and/or answer tags) succeeds, else -1. ``re.match`` anchors at the start of the text
  (MULTILINE does not change that); ``$`` may match at any line end.
* **tag term** (tag_count_reward): -0.25 for each of these that does not occur exactly once: ``<think>`` followed
  by whitespace; ``</think>\\n`` preceded by whitespace; ``\\n<answer>`` followed by whitespace; ``</answer>``
  preceded by whitespace (non-overlapping ``re.findall`` counts).
* **answer** (extract_solution): with two or more ``<answer>\\s*(.*?)\\s*</answer>`` matches, the last one's text
  stripped; else the first ``<answer>\\n(.*?)\\n</answer>``; else the first ``<answer>\\s*(.*?)\\s*</answer>``
  stripped; else none.
* **exclusion** (exclude_reward): the answer's first line (up to the first ``\\n``) must be exactly one of the
  candidate labels: else -0.5; naming the ground-truth passage (the relevant one, which must survive): 0; any
  other candidate: 1.
* total: no answer: -1 + format + tag; else exclusion + format + tag. Range [-2.5, 1].

Labels and the ground truth on rankrl rows: the candidates are the elimination paradigm's labels of the passages
shown (``passage 1`` … ``passage m``); IRanker's steps hold one relevant passage and k >= 1 irrelevant ones
(process_passage.py:process_list), so "the ground truth" is the passage with the group's top grade; several
passages sharing a top grade above 0 are all ground truths. ``lowest_only=True`` (not IRanker's rule) gives 1 only
for a passage of the group's lowest grade, which matters for graded groups.

What IRanker's trainer scored is not the completion alone: verl's RewardManager decodes prompt + response
(special tokens kept) into ``solution_str``. Two consequences, reproduced by ``with_published_prompt=True``, which
scores :data:`PUBLISHED_PREFIX` + completion + ``<|im_end|>``: (1) the text starts with ``<|im_start|>system``, so
the format term is -1 for every completion (a constant, which GRPO's group normalisation removes); (2) the
prompt's own ``<think> </think>`` and ``<answer> </answer>`` (in "Show your work in <think> </think> tags") count in
the tag term and make ``<answer> </answer>`` a first answer match, so a completion with no answer block reads an
empty answer (-0.5) instead of none (-1). The default scores the completion alone (after the ``<think>`` that a
pre-filled template supplies), which is what the published rule says but not what the published run computed.
"""

from __future__ import annotations

import re
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.rewards.published import PublishedReward

_FLAGS = re.DOTALL | re.MULTILINE
_FORMATS = tuple(
    re.compile(rf"^<think>{a}.*?{a}</think>\n<answer>{b}.*?{b}</answer>$", _FLAGS)
    for a, b in ((r"\n", r"\n"), (r"\n", r"\s"), (r"\s", r"\n"), (r"\s", r"\s"))
)
_TAGS = tuple(
    re.compile(p)
    for p in (r"<think>\n|<think>\s", r"\n</think>\n|\s</think>\n", r"\n<answer>\n|\n<answer>\s", r"\n</answer>|\s</answer>")
)
_ANY_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)
_STRICT_ANSWER = re.compile(r"<answer>\n(.*?)\n</answer>", re.DOTALL)

# The decoded sequence before the response in IRanker's training (Qwen chat markup written out by
# examples/data_preprocess/iterative_data_generation.py:make_prefix at the commit above); the problem text, which
# holds the query and passages, is a placeholder: rankrl neutralises tags in queries and passages, so it cannot
# change any of the rule's matches.
PUBLISHED_PREFIX = (
    "<|im_start|>system\nYou are a helpful assistant. You first thinks about the reasoning process in the mind and "
    "then provides the user with the answer.<|im_end|>\n<|im_start|>user\n {problem} Show your work in <think> "
    "</think> tags. And return the final answer in <answer> </answer> tags.<|im_end|>\n<|im_start|>assistant\n"
    "Let me solve this step by step.\n<think>"
)
PUBLISHED_SUFFIX = "<|im_end|>"


def format_term(text: str) -> float:
    """IRanker's format_reward: 0 when one of its four layouts matches from the start of ``text``, else -1."""
    return 0.0 if any(p.match(text) for p in _FORMATS) else -1.0


def tag_term(text: str) -> float:
    """IRanker's tag_count_reward: -0.25 for each of its four tag patterns not found exactly once."""
    return -0.25 * sum(len(p.findall(text)) != 1 for p in _TAGS)


def extract_answer(text: str) -> str | None:
    """IRanker's extract_solution (see the module doc)."""
    matches = list(_ANY_ANSWER.finditer(text))
    if len(matches) >= 2:
        return matches[-1].group(1).strip()
    strict = _STRICT_ANSWER.search(text)
    if strict:
        return strict.group(1)
    return matches[0].group(1).strip() if matches else None


def exclusion_term(answer: str, candidates: list[str], keep: set[str]) -> float:
    """IRanker's exclude_reward: first line not a candidate -0.5; a passage that must stay 0; else 1."""
    first = answer.split("\n")[0]
    if first not in candidates:
        return -0.5
    return 0.0 if first in keep else 1.0


class IRankerElimination(PublishedReward):
    """exclusion + format + tag terms of IRanker's compute_score (see the module doc)."""

    name = "iranker_elimination"
    paradigms = ("elimination",)

    def __init__(
        self,
        paradigm: Any = "elimination",
        format_gate: str = "zero",
        parser=None,
        *,
        with_published_prompt: bool = False,
        lowest_only: bool = False,
    ):
        super().__init__(paradigm, format_gate, parser)
        for key, value in (("with_published_prompt", with_published_prompt), ("lowest_only", lowest_only)):
            if not isinstance(value, bool):
                raise RankrlError(f"reward {self.name!r}: {key} must be true or false, got {value!r}")
        self.with_published_prompt = with_published_prompt
        self.lowest_only = lowest_only

    def params(self) -> dict[str, Any]:
        return {"with_published_prompt": self.with_published_prompt, "lowest_only": self.lowest_only}

    def keep(self, grades: list, labels: list[str]) -> set[str]:
        """Labels whose elimination earns 0: the top-graded passages (IRanker), or all but the lowest."""
        if self.lowest_only:
            low = min(grades)
            return {lab for lab, g in zip(labels, grades) if g != low}
        top = max(grades)
        return {lab for lab, g in zip(labels, grades) if g == top} if top > 0 else set()

    def rule(self, text: str, grades: list, docids: list[str] | None, row: int, kwargs: dict[str, Any]) -> float:
        if self.with_published_prompt:
            text = PUBLISHED_PREFIX + text + PUBLISHED_SUFFIX
        answer = extract_answer(text)
        terms = format_term(text) + tag_term(text)
        if answer is None:
            return -1.0 + terms
        labels = self.paradigm.labels(len(grades))
        return exclusion_term(answer, labels, self.keep(grades, labels)) + terms
