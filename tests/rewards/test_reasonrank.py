"""reasonrank_multiview against ReasonRank's published rule (8421BCD/ReasonRank@e6d3ab4:
verl/verl/utils/reward_score/ranking.py:compute_score; RBO = rbo 0.1.3 RankingSimilarity(pred, gold).rbo(), p=1).

Window of four: docids d1..d4 shown in that order, d2 and d4 relevant; the gold list (grades, ties in shown order)
is [2] > [4] > [1] > [3]. Every expected value below is worked out by hand:
  nDCG@10 (binary gains) = DCG / IDCG with IDCG = 1 + 1/log2(3); Recall@10 = 1 whenever both relevant are listed;
  RBO(p=1) = mean over depths d of |top-d(pred) ∩ top-d(gold)| / d.
"""

from __future__ import annotations

from math import log2

import pytest

from rankrl.rewards import get_reward
from rankrl.rewards.reasonrank import digit_ids, rbo_p1

DOCIDS = ["d1", "d2", "d3", "d4"]
GRADES = [0, 1, 0, 1]
IDCG = 1 + 1 / log2(3)


def wrap(answer: str) -> str:
    return f"<think>reasoning</think>\n<answer>{answer}</answer>"


CASES = [
    # perfect: nDCG 1, recall 1, RBO 1
    (wrap("[2] > [4] > [1] > [3]"), 1.3),
    # shown order: relevant at ranks 2 and 4; RBO overlaps 0,1,2,4 -> (0 + 1/2 + 2/3 + 1) / 4
    (wrap("[1] > [2] > [3] > [4]"), (1 / log2(3) + 1 / log2(5)) / IDCG + 0.2 + 0.1 * (0 + 1 / 2 + 2 / 3 + 1) / 4),
    # worst: relevant at ranks 3 and 4; overlaps 0,0,2,4 -> (0 + 0 + 2/3 + 1) / 4
    (wrap("[1] > [3] > [2] > [4]"), (1 / log2(4) + 1 / log2(5)) / IDCG + 0.2 + 0.1 * (2 / 3 + 1) / 4),
    # no think block: -1
    ("<answer>[2] > [4] > [1] > [3]</answer>", -1.0),
    # text between </think> and <answer>: -1
    ("<think>r</think> so <answer>[2] > [4] > [1] > [3]</answer>", -1.0),
    ("no tags at all", -1.0),
    # three of four ids: 0 (rankrl's repairing listwise_ndcg gave such answers credit)
    (wrap("[2] > [4] > [1]"), 0.0),
    # a repeated id: four ids but three distinct: 0
    (wrap("[2] > [2] > [4] > [1]"), 0.0),
    # an out-of-range id passes the count check; position 4 is dropped -> d2, d4, d1: nDCG 1, recall 1;
    # overlaps 1,2,3,3 -> (1 + 1 + 1 + 3/4) / 4
    (wrap("[2] > [4] > [1] > [5]"), 1.2 + 0.1 * (1 + 1 + 1 + 0.75) / 4),
    # "0" is position -1 = the last passage d4; the dict keeps d4's later rank: d2, d4, d1 -> nDCG 1;
    # RBO on strings: overlaps 0,1,2,3 -> (0 + 1/2 + 2/3 + 3/4) / 4
    (wrap("[0] > [2] > [4] > [1]"), 1.2 + 0.1 * (0 + 1 / 2 + 2 / 3 + 3 / 4) / 4),
    # leading zero: int("02") = 2 ranks like the perfect answer, but RBO compares strings: overlaps 0,1,2,3
    (wrap("[02] > [4] > [1] > [3]"), 1.2 + 0.1 * (0 + 1 / 2 + 2 / 3 + 3 / 4) / 4),
    # only digits matter: bare numbers, no separators, prose around them
    (wrap("2 4 1 3"), 1.3),
    (wrap("[2]>[4]>[1]>[3]"), 1.3),
    (wrap("ranking: [2] > [4] > [1] > [3] (done)"), 1.3),
    (wrap("Passage 2 first, then [4] > [1] > [3]"), 1.3),
    # a fifth number anywhere in the answer breaks the count: 0
    (wrap("[2] > [4] > [1] > [3] as of 2025"), 0.0),
    # empty answer: 0 ids: 0
    (wrap(""), 0.0),
    # a superscript digit passes str.isdigit but not int(): 0
    (wrap("[2] > [4] > [1] > [³]"), 0.0),
    # the first answer block is read
    ("<think>r</think><answer>[2] > [4] > [1] > [3]</answer><answer>[1] > [2] > [3] > [4]</answer>", 1.3),
    # think blocks may span lines; whitespace between the blocks is allowed
    ("<think>a\n\nb</think>\n\n<answer>\n[2] > [4] > [1] > [3]\n</answer> trailing", 1.3),
    # an unclosed answer does not match: -1
    ("<think>r</think><answer>[2] > [4] > [1] > [3]", -1.0),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_published_rule_on_literal_completions(text, expected):
    reward = get_reward("reasonrank_multiview", "listwise")
    assert reward([text], relevance=[GRADES], docids=[DOCIDS]) == [pytest.approx(expected, abs=1e-12)]


def test_batch_matches_single_rows_and_positions_stand_in_for_docids():
    reward = get_reward("reasonrank_multiview", "listwise")
    texts = [t for t, _ in CASES]
    expected = [pytest.approx(e, abs=1e-12) for _, e in CASES]
    assert reward(texts, relevance=[GRADES] * len(texts), docids=[DOCIDS] * len(texts)) == expected
    assert reward(texts, relevance=[GRADES] * len(texts)) == expected


def test_gold_order_column_is_the_gold_list():
    reward = get_reward("reasonrank_multiview", "listwise")
    # gold [4] > [2] > [1] > [3]; answer [2] > [4] > [1] > [3]: nDCG 1, recall 1, overlaps 0,2,3,4 -> 3/4
    got = reward([wrap("[2] > [4] > [1] > [3]")], relevance=[GRADES], docids=[DOCIDS], gold_order=[[3, 1, 0, 2]])
    assert got == [pytest.approx(1.2 + 0.1 * 0.75, abs=1e-12)]
    with pytest.raises(Exception, match="gold_order"):
        reward([wrap("[1]")], relevance=[GRADES], docids=[DOCIDS], gold_order=[[0, 0, 1, 2]])


def test_no_relevant_passage_and_depth_cutoff():
    reward = get_reward("reasonrank_multiview", "listwise")
    # no relevant passage: nDCG = recall = 0 (the published code raises KeyError here); RBO of the shown order = 1
    assert reward([wrap("[1] > [2] > [3] > [4]")], relevance=[[0, 0, 0, 0]]) == [pytest.approx(0.1)]
    # twelve passages, the only relevant one shown last and ranked last: nDCG@10 = Recall@10 = 0;
    # gold is [12] > [1] > … > [11]: overlap at depth d < 12 is d - 1, at 12 it is 12
    grades = [0] * 11 + [1]
    answer = " > ".join(f"[{i}]" for i in range(1, 13))
    rbo = (sum((d - 1) / d for d in range(1, 12)) + 1) / 12
    assert reward([wrap(answer)], relevance=[grades]) == [pytest.approx(0.1 * rbo, abs=1e-12)]
    # the relevant passage ranked 10th still counts: 1/log2(11) with IDCG 1, recall 1
    answer = " > ".join(f"[{i}]" for i in [*range(1, 10), 12, 10, 11])
    rbo = (sum((d - 1) / d for d in range(1, 10)) + 10 / 10 + 11 / 11 + 1) / 12
    assert reward([wrap(answer)], relevance=[grades]) == [pytest.approx(1 / log2(11) + 0.2 + 0.1 * rbo, abs=1e-12)]


def test_helpers():
    assert digit_ids("[12] > [3]x4") == ["12", "3", "4"]
    assert rbo_p1([], []) == 1.0 and rbo_p1(["1"], []) == 0.0
    assert rbo_p1(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert rbo_p1(["a", "b"], ["b", "a", "c"]) == pytest.approx((0 + 1) / 2)  # depth min(len) = 2
