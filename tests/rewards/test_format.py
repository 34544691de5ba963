"""The format reward: strict and partial credit on literal completions."""

from __future__ import annotations

import pytest

from rankrl import prompts
from rankrl.core.errors import RankrlError
from rankrl.rewards import get_reward
from rankrl.rewards.format import partial_credit

CASES = [
    # completion, strict, partial
    ("<think>x</think><answer>[2] > [1]</answer>", 1.0, 1.0),
    ("<think>x</think>\n\n<answer> [2] > [2] </answer>\n", 1.0, 0.75),  # repaired: usable, not perfect
    ("<answer>[2] > [1]</answer>", 0.0, 0.5),  # no think block
    ("<think>x</think>", 0.0, 0.25),  # no answer
    ("", 0.0, 0.0),
    ("<think>x</think><answer>nothing</answer>", 0.0, 0.5),  # blocks fine, answer unusable
    ("<think>a</think><think>b</think><answer>[1] > [2]</answer>", 0.0, 0.5),  # two think blocks
    ("<think>x</think><answer>[2] > [1]</answer> and more", 0.0, 0.75),  # text outside the blocks
    ("<answer>[1]</answer><think>x</think>", 0.0, 0.5),  # order swapped: answer read, format not ok
    ("[2] > [1]", 0.0, 0.0),
]


@pytest.mark.parametrize("text,strict,partial", CASES)
def test_format_reward_literal(text, strict, partial):
    cols = {"relevance": [[0, 1]]}
    assert get_reward("format", "listwise", mode="strict")([text], **cols) == [strict]
    assert get_reward("format", "listwise", mode="partial")([text], **cols) == [partial]


def test_format_is_not_gated_and_needs_only_the_group_size():
    reward = get_reward("format", "listwise", "minus_one")
    texts = ["<think>x</think><answer>[2] > [1]</answer>", "junk"]
    assert reward(texts, docids=[["a", "b"], ["a", "b"]]) == [1.0, 0.0]
    assert reward(texts, relevance=[[0, 1], None]) == [1.0, None]  # nothing tells the size of row 2
    with pytest.raises(RankrlError, match="'relevance' or 'docids'"):
        reward(texts)
    pointwise = get_reward("format", "pointwise")
    assert pointwise(["<think>x</think><answer>4</answer>"]) == [1.0]  # one passage: no column needed


def test_partial_credit_with_prefilled_think():
    paradigm = prompts.get_paradigm("listwise", think_prefilled=True)
    text = "reasoning here</think>\n<answer>[1] > [2]</answer>"
    assert get_reward("format", paradigm, mode="partial")([text], relevance=[[1, 0]]) == [1.0]
    assert get_reward("format", paradigm)([text], relevance=[[1, 0]]) == [1.0]
    assert partial_credit(text, paradigm.parse(text, 2), think_prefilled=False) == 0.75


def test_unknown_mode():
    with pytest.raises(RankrlError, match="mode must be one of strict, partial"):
        get_reward("format", "listwise", mode="lenient")
