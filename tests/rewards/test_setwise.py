"""setwise_choice on literal completions."""

from __future__ import annotations

import pytest

from rankrl.rewards import get_reward

GRADES = [1, 3, 0, 3]  # [2] and [4] share the top grade


def pick(answer: str) -> str:
    return f"<think>weighing the passages</think>\n<answer>{answer}</answer>"


@pytest.mark.parametrize("gate,fail", [("none", 0.0), ("zero", 0.0), ("minus_one", -1.0)])
def test_setwise_choice_literal_completions(gate, fail):
    reward = get_reward("setwise_choice", "setwise", gate)
    completions = [
        pick("[2]"),  # top grade
        pick("[4]"),  # also top grade
        pick("[1]"),  # relevant but not top
        pick("[3]"),  # non-relevant
        pick("[7]"),  # out of range: not ok (never "the first passage")
        pick("[2] or [4]"),  # ambiguous: not ok
        pick("2"),  # bare integer: repaired pick of [2]
        "[2]",  # no tags: not ok
        [{"role": "assistant", "content": pick("[4]")}],
    ]
    got = reward(completions, relevance=[GRADES] * len(completions))
    assert got == [1.0, 1.0, 0.0, 0.0, fail, fail, 1.0, fail, 1.0]


def test_setwise_format_gate_on_a_correct_pick_without_think():
    bare = "<answer>[2]</answer>"
    assert get_reward("setwise_choice", "setwise", "none")([bare], relevance=[GRADES]) == [1.0]
    assert get_reward("setwise_choice", "setwise", "zero")([bare], relevance=[GRADES]) == [0.0]
    assert get_reward("setwise_choice", "setwise", "minus_one")([bare], relevance=[GRADES]) == [-1.0]


def test_setwise_group_without_relevant_passage_scores_zero():
    reward = get_reward("setwise_choice", "setwise")
    assert reward([pick("[1]"), pick("[2]")], relevance=[[0, 0, 0], [0, 0, 0]]) == [0.0, 0.0]
