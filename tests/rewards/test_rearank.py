"""rearank_delta_ndcg: REARANK's normalised relative nDCG@10 improvement (the public part of its reward; see
rewards/rearank.py for what is and is not public). Expected values by hand:
(nDCG(answer) - nDCG(shown)) / (nDCG(ideal) - nDCG(shown)), binary gains, IDCG = 1 + 1/log2(3) for two relevant."""

from __future__ import annotations

from math import log2

import pytest

from rankrl.rewards import get_reward

GRADES = [0, 1, 0, 1]  # shown order: relevant at ranks 2 and 4
IDCG = 1 + 1 / log2(3)
SHOWN = (1 / log2(3) + 1 / log2(5)) / IDCG


def wrap(answer: str) -> str:
    return f"<think>r</think><answer>{answer}</answer>"


CASES = [
    (wrap("[2] > [4] > [1] > [3]"), 1.0),  # ideal
    (wrap("[1] > [2] > [3] > [4]"), 0.0),  # echoes the shown order
    (wrap("[2] > [1] > [4] > [3]"), ((1 + 1 / log2(4)) / IDCG - SHOWN) / (1 - SHOWN)),
    (wrap("[1] > [3] > [2] > [4]"), ((1 / log2(4) + 1 / log2(5)) / IDCG - SHOWN) / (1 - SHOWN)),  # a loss
    ("no answer", 0.0),  # rankrl's format gate (zero): REARANK's own failure value is not public
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_normalised_improvement(text, expected):
    reward = get_reward("rearank_delta_ndcg", "listwise")
    assert reward([text], relevance=[GRADES]) == [pytest.approx(expected, abs=1e-12)]


def test_equals_listwise_delta_ndcg_and_ideal_shown_order_gives_zero():
    ours = get_reward("listwise_delta_ndcg", "listwise")
    rearank = get_reward("rearank_delta_ndcg", "listwise")
    texts = [t for t, _ in CASES]
    assert rearank(texts, relevance=[GRADES] * len(texts)) == ours(texts, relevance=[GRADES] * len(texts))
    assert rearank([wrap("[2] > [1]")], relevance=[[1, 0]]) == [0.0]
    assert rearank.params() == {"k": 10}
