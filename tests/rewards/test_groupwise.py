"""groupwise_ndcg and distributional on literal completions."""

from __future__ import annotations

import math

import pytest

from rankrl.core.errors import RankrlError
from rankrl.rewards import get_reward

TIED = '<think>x</think><answer>{"[1]": 5, "[2]": 5, "[3]": 9}</answer>'
FENCED = '<think>x</think><answer>```json\n{"[1]": 2, "[2]": 10, "[3]": 4,}\n```</answer>'
MISSING = '<think>x</think><answer>{"[1]": 5, "[3]": 9}</answer>'  # [2] gets 0 (repaired)
NOT_JSON = "<think>x</think><answer>[2] is best</answer>"
GRADES = [0, 3, 1]
IDEAL_DCG = 3 + 1 / math.log2(3)


@pytest.mark.parametrize("gate,fail", [("none", 0.0), ("zero", 0.0), ("minus_one", -1.0)])
def test_groupwise_ndcg_literal_completions(gate, fail):
    reward = get_reward("groupwise_ndcg", "groupwise", gate, k=10)
    got = reward([TIED, FENCED, MISSING, NOT_JSON], relevance=[GRADES] * 4)
    # TIED: 9 > 5 = 5, tie kept in shown order -> [3] [1] [2]: gains 1, 0, 3
    tied = (1 + 0 + 3 / math.log2(4)) / IDEAL_DCG
    # MISSING: scores 5, 0, 9 -> [3] [1] [2]: same order as TIED
    assert got == pytest.approx([tied, 1.0, tied, fail], abs=1e-12)


def test_distributional_literal_values():
    reward = get_reward("distributional", "groupwise", "minus_one", grade_max=3)
    got = reward([TIED, FENCED, NOT_JSON], relevance=[GRADES] * 3)
    tied = 1 - ((0.5 - 0) ** 2 + (0.5 - 1) ** 2 + (0.9 - 1 / 3) ** 2) / 3
    fenced = 1 - ((0.2 - 0) ** 2 + (1.0 - 1) ** 2 + (0.4 - 1 / 3) ** 2) / 3
    assert got == pytest.approx([tied, fenced, -1.0], abs=1e-12)


def test_distributional_scores_groups_without_relevant_passages():
    reward = get_reward("distributional", "groupwise", grade_max=3)
    low = '<think>x</think><answer>{"[1]": 0, "[2]": 1}</answer>'
    assert reward([low], relevance=[[0, 0]]) == pytest.approx([1 - (0 + 0.01) / 2])


def test_distributional_grade_max_defaults_to_batch_maximum_and_rejects_higher_grades():
    ok = '<think>x</think><answer>{"[1]": 10, "[2]": 0}</answer>'
    assert get_reward("distributional", "groupwise")([ok], relevance=[[1, 0]]) == [1.0]  # grade_max -> 1
    with pytest.raises(RankrlError, match="grade 3, above grade_max=1"):
        get_reward("distributional", "groupwise", grade_max=1)([ok], relevance=[[3, 0]])
