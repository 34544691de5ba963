"""Listwise rewards on literal completions with hand-computed values, under every format gate."""

from __future__ import annotations

import math

import pytest

from rankrl.core.errors import RankrlError
from rankrl.rewards import get_reward

D1, D2, D3 = 1 / math.log2(3), 1 / math.log2(4), 1 / math.log2(5)  # discounts of ranks 2, 3, 4
GRADES = [0, 2, 0, 1]  # passages [1]..[4]; ideal order [2] > [4] > ([1], [3])
IDEAL_DCG = 2 + 1 * D1

IDEAL = "<think>compare them</think>\n<answer>[2] > [4] > [1] > [3]</answer>"
SHOWN = "<think>x</think><answer>[1] > [2] > [3] > [4]</answer>"
REPAIRED = "<think>x</think><answer>[4] > [4] > [9] > [2]</answer>"  # -> [4] [2] [1] [3]
NO_THINK = "<answer>[2] > [4] > [1] > [3]</answer>"  # parses, format not ok
THINK_ONLY = "<think>[2] > [4] is clear</think>"  # ids while thinking never count
PROSE = "The ranking is [2] > [4] > [1] > [3]."
EMPTY_ANSWER = "<think>x</think><answer></answer>"
CHAT = [{"role": "assistant", "content": IDEAL}]
BATCH = [IDEAL, SHOWN, REPAIRED, NO_THINK, THINK_ONLY, PROSE, EMPTY_ANSWER, CHAT]

NDCG_SHOWN = (2 * D1 + 1 * D3) / IDEAL_DCG
NDCG_REPAIRED = (1 + 2 * D1) / IDEAL_DCG


def call(reward, completions, grades=GRADES):
    return reward(completions, relevance=[list(grades) for _ in completions])


@pytest.mark.parametrize(
    "gate,fail,no_think",
    [("none", 0.0, 1.0), ("zero", 0.0, 0.0), ("minus_one", -1.0, -1.0)],
)
def test_listwise_ndcg_literal_completions(gate, fail, no_think):
    got = call(get_reward("listwise_ndcg", "listwise", gate, k=10), BATCH)
    want = [1.0, NDCG_SHOWN, NDCG_REPAIRED, no_think, fail, fail, fail, 1.0]
    assert got == pytest.approx(want, abs=1e-12)


def test_listwise_ndcg_cutoff_and_no_relevant_group():
    reward = get_reward("listwise_ndcg", "listwise", k=2)
    assert call(reward, [SHOWN]) == pytest.approx([2 * D1 / IDEAL_DCG])
    assert call(reward, [IDEAL, SHOWN], grades=[0, 0, 0, 0]) == [0.0, 0.0]


def test_delta_ndcg_literal_completions():
    reward = get_reward("listwise_delta_ndcg", "listwise", "minus_one")
    got = call(reward, [IDEAL, SHOWN, REPAIRED, PROSE])
    assert got == pytest.approx([1.0, 0.0, (NDCG_REPAIRED - NDCG_SHOWN) / (1 - NDCG_SHOWN), -1.0])
    worse = "<think>x</think><answer>[1] > [3] > [4] > [2]</answer>"  # gains 0, 0, 1, 2
    ndcg_worse = (1 * D2 + 2 * D3) / IDEAL_DCG
    assert call(reward, [worse]) == pytest.approx([(ndcg_worse - NDCG_SHOWN) / (1 - NDCG_SHOWN)])
    bounded = get_reward("listwise_delta_ndcg", "listwise", normalise_losses=True)
    assert call(bounded, [worse]) == pytest.approx([(ndcg_worse - NDCG_SHOWN) / NDCG_SHOWN])
    # shown order already ideal -> 0 whatever the answer
    assert call(reward, [SHOWN, IDEAL], grades=[3, 2, 1, 0]) == [0.0, 0.0]


def test_recall_literal_completions():
    reward = get_reward("recall", "listwise", k=2)
    assert call(reward, [IDEAL, SHOWN, REPAIRED, PROSE]) == [1.0, 0.5, 1.0, 0.0]
    strict = get_reward("recall", "listwise", k=2, rel_level=2)  # only [2] counts
    assert call(strict, [SHOWN, "<think>x</think><answer>[4] > [1] > [2] > [3]</answer>"]) == [1.0, 0.0]


def test_rbo_literal_completions():
    p = 0.9
    reward = get_reward("rbo", "listwise", p=p)
    # SHOWN vs ideal [2] [4] ([1] [3] tie): overlaps 0/1, 1/2, 2/3, 4/4
    want_shown = (1 - p) * (0 + p * 0.5 + p**2 * 2 / 3 + p**3) + p**4
    tie_swapped = "<think>x</think><answer>[2] > [4] > [3] > [1]</answer>"
    assert call(reward, [IDEAL, SHOWN, tie_swapped, PROSE]) == pytest.approx([1.0, want_shown, 1.0, 0.0])


def test_bad_parameters_are_errors():
    with pytest.raises(RankrlError, match="k must be a positive integer"):
        get_reward("listwise_ndcg", "listwise", k=0)
    with pytest.raises(RankrlError, match="p must be a number in"):
        get_reward("rbo", "listwise", p=1.5)
    with pytest.raises(RankrlError, match="normalise_losses"):
        get_reward("listwise_delta_ndcg", "listwise", normalise_losses="yes")


def test_ranking_rewards_apply_to_groupwise_scores():
    grouped = '<think>x</think><answer>{"[1]": 1, "[2]": 9, "[3]": 0, "[4]": 6}</answer>'  # induces the ideal
    for name in ("recall", "rbo", "listwise_delta_ndcg"):
        assert call(get_reward(name, "groupwise"), [grouped]) == [pytest.approx(1.0)]
    with pytest.raises(RankrlError, match="does not apply to the groupwise paradigm"):
        get_reward("listwise_ndcg", "groupwise")


def test_groups_of_different_sizes_in_one_batch():
    small = "<think>x</think><answer>[2] > [1]</answer>"
    reward = get_reward("listwise_ndcg", "listwise", k=10)
    mixed = reward([IDEAL, small, SHOWN], relevance=[GRADES, [0, 1], GRADES])
    assert mixed == pytest.approx([1.0, 1.0, NDCG_SHOWN])
    assert get_reward("rbo", "listwise")([small, SHOWN], relevance=[[1, 0], GRADES])[0] == pytest.approx(
        (1 - 0.9) * (0 + 0.9 * 1) + 0.9**2  # overlaps 0/1, 2/2
    )
