"""pointwise_accuracy and pointwise_listwise (ERank-style) on literal completions, hand-computed."""

from __future__ import annotations

import math

import pytest

from rankrl import prompts
from rankrl.core.errors import RankrlError
from rankrl.rewards import get_reward


def score(value: str) -> str:
    return f"<think>reading the passage</think>\n<answer>{value}</answer>"


@pytest.mark.parametrize("gate,fail", [("none", 0.0), ("zero", 0.0), ("minus_one", -1.0)])
def test_pointwise_accuracy_literal_completions(gate, fail):
    reward = get_reward("pointwise_accuracy", "pointwise", gate, grade_max=3)
    completions = [
        score("7"),
        score("0"),
        score("10"),
        score("11"),
        score("seven"),
        "7",
        score("Score: 4/10"),
    ]
    relevance = [[2], [0], [0], [1], [1], [1], 1]  # a bare int grade is accepted for one-passage rows
    got = reward(completions, relevance=relevance, docids=[["d"]] * 6 + ["d"])
    want = [1 - abs(0.7 - 2 / 3), 1.0, 0.0, fail, fail, fail, 1 - abs(0.4 - 1 / 3)]
    assert got == pytest.approx(want, abs=1e-12)


def test_pointwise_accuracy_binary_template():
    binary = prompts.get_paradigm("pointwise", template="pointwise-binary")
    reward = get_reward("pointwise_accuracy", binary)
    got = reward(
        [score("true"), score("false"), score("true"), score("maybe")], relevance=[[1], [1], [0], [1]]
    )
    assert got == [1.0, 0.0, 0.0, 0.0]
    graded_data = get_reward("pointwise_accuracy", binary, grade_max=3)
    assert graded_data([score("true")], relevance=[[2]]) == pytest.approx([1 - abs(1 - 2 / 3)])


def test_pointwise_rows_must_show_one_passage():
    reward = get_reward("pointwise_accuracy", "pointwise", grade_max=3)
    with pytest.raises(RankrlError, match="pointwise row shows exactly one passage"):
        reward([score("3")], relevance=[[1, 0]])


# pointwise_listwise: the worked example of docs/rewards.md.
#   query q1: passage A (grade 2) scored 9 and 5 by two rollouts, B (grade 0) scored 7 and 3,
#             C (grade 1) scored 7, and one rollout of A that does not parse.
#   query q2: passage D (grade 0) scored 8: no relevant passage -> 0.
#   query q3: E (grade 1) and F (grade 0) both scored 5: a tie counts half.
ROWS = [
    ("q1", "A", 2, score("9")),
    ("q1", "A", 2, score("5")),
    ("q1", "B", 0, score("7")),
    ("q1", "B", 0, score("3")),
    ("q1", "C", 1, score("7")),
    ("q1", "A", 2, "no answer at all"),
    ("q2", "D", 0, score("8")),
    ("q3", "E", 1, score("5")),
    ("q3", "F", 0, score("5")),
]


def call_listwise(reward, rows=ROWS, **extra):
    return reward(
        [r[3] for r in rows],
        qid=[r[0] for r in rows],
        docids=[[r[1]] for r in rows],
        relevance=[[r[2]] for r in rows],
        **extra,
    )


@pytest.mark.parametrize("gate,fail", [("zero", 0.0), ("minus_one", -1.0)])
def test_pointwise_listwise_hand_computed(gate, fail):
    got = call_listwise(get_reward("pointwise_listwise", "pointwise", gate, grade_max=3))
    want = [
        (2 / 3) / math.log2(1 + 1),  # A@9: no other passage above -> rank 1
        (2 / 3) / math.log2(1 + 3),  # A@5: B@7 and C@7 above (A@9 is its own passage) -> rank 3
        -(1 + 0.5) / 3,  # B@7: outranks A@5, ties C@7 -> 1.5 of 3 relevant completions
        0.0,  # B@3: below every relevant completion
        (1 / 3) / math.log2(1 + 2.5),  # C@7: A@9 above, tie with B@7 -> rank 2.5
        fail,  # unparsable: the gate's value, and left out of the ranking
        0.0,  # q2 has no relevant passage
        (1 / 3) / math.log2(1 + 1.5),  # E ties F -> rank 1.5
        -0.5,  # F ties the only relevant completion
    ]
    assert got == pytest.approx(want, abs=1e-12)


def test_pointwise_listwise_rewards_follow_scores():
    """Raising a relevant passage's score never lowers its reward; raising a non-relevant one never raises it."""
    reward = get_reward("pointwise_listwise", "pointwise", grade_max=3)
    base = call_listwise(reward)
    for row, new in ((1, "8"), (3, "10")):
        rows = list(ROWS)
        rows[row] = (*rows[row][:3], score(new))
        moved = call_listwise(reward, rows)
        if rows[row][2] > 0:
            assert moved[row] > base[row]
        else:
            assert moved[row] < base[row]


def test_pointwise_listwise_needs_qid_and_docids_and_consistent_grades():
    reward = get_reward("pointwise_listwise", "pointwise", grade_max=3)
    with pytest.raises(RankrlError, match="'qid'"):
        reward([score("3")], relevance=[[1]], docids=[["a"]])
    with pytest.raises(RankrlError, match="'docids'"):
        reward([score("3")], relevance=[[1]], qid=["q"])
    with pytest.raises(RankrlError, match="two different grades"):
        reward([score("3"), score("4")], relevance=[[1], [2]], docids=[["a"], ["a"]], qid=["q", "q"])
