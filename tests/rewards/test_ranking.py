"""rewards.ranking: parity with pytrec_eval on real DL19 groups, hand-computed values, hypothesis properties."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

from rankrl.core.errors import RankrlError
from rankrl.rewards import ranking

MAX_ERROR = 1e-9


def disc(rank0: int) -> float:
    return 1.0 / math.log2(rank0 + 2)


def pytrec(groups: list[tuple[list[int], list[int]]], measures: set[str], rel_level: int = 1) -> list[dict]:
    """Evaluate (order, grades) groups with pytrec_eval: qrels restricted to the group, strictly decreasing run."""
    qrels = {f"g{i}": {f"d{j}": int(g) for j, g in enumerate(grades)} for i, (_, grades) in enumerate(groups)}
    run = {
        f"g{i}": {f"d{doc}": float(len(order) - r) for r, doc in enumerate(order)}
        for i, (order, _) in enumerate(groups)
    }
    ev = pytrec_eval.RelevanceEvaluator(qrels, measures, relevance_level=rel_level).evaluate(run)
    return [ev[f"g{i}"] for i in range(len(groups))]


# -- parity with pytrec_eval on the real DL19 qrels -------------------------------------------------------------


@pytest.fixture(scope="module")
def dl19_groups(shared_data) -> list[tuple[list[int], list[int]]]:
    """Random groups of 20 judged passages per DL19 query (plus all-non-relevant groups), shuffled rankings."""
    path = shared_data / "trec-dl" / "qrels.dl19-passage.txt"
    if not path.is_file():
        pytest.skip(f"DL19 qrels not found at {path}")
    with open(path) as f:
        qrels = pytrec_eval.parse_qrel(f)
    assert len(qrels) == 43
    rng = random.Random(19)
    groups = []
    for qid in sorted(qrels):
        judged = sorted(qrels[qid].items())
        zeros = [d for d, g in judged if g == 0]
        for _ in range(12):
            docs = rng.sample(judged, 20)
            groups.append(([*rng.sample(range(20), 20)], [g for _, g in docs]))
        if len(zeros) >= 20:  # a group with no relevant passage at all
            groups.append((rng.sample(range(20), 20), [0] * 20))
    return groups


def test_dl19_groups_cover_all_grades(dl19_groups):
    grades = {g for _, gs in dl19_groups for g in gs}
    assert grades == {0, 1, 2, 3}
    assert any(max(gs) == 0 for _, gs in dl19_groups)


@pytest.mark.parametrize("k", [1, 5, 10, 20])
def test_ndcg_equals_pytrec_eval_on_dl19(dl19_groups, k):
    expected = [r[f"ndcg_cut_{k}"] for r in pytrec(dl19_groups, {f"ndcg_cut_{k}"})]
    orders = np.array([o for o, _ in dl19_groups])
    grades = np.array([g for _, g in dl19_groups])
    got = ranking.ndcg_at_k_batch(orders, grades, k)
    assert np.max(np.abs(got - np.array(expected))) <= MAX_ERROR
    # the single-group entry point agrees with the batch one
    for (order, g), e in zip(dl19_groups[:50], expected[:50]):
        assert abs(ranking.ndcg_at_k(order, g, k) - e) <= MAX_ERROR


@pytest.mark.parametrize("k,rel_level", [(5, 1), (10, 1), (10, 2), (20, 2)])
def test_recall_equals_pytrec_eval_on_dl19(dl19_groups, k, rel_level):
    expected = [r[f"recall_{k}"] for r in pytrec(dl19_groups, {f"recall_{k}"}, rel_level)]
    got = ranking.recall_at_k_batch(
        np.array([o for o, _ in dl19_groups]), np.array([g for _, g in dl19_groups]), k, rel_level
    )
    assert np.max(np.abs(got - np.array(expected))) <= MAX_ERROR


def test_delta_ndcg_built_from_pytrec_eval_values_on_dl19(dl19_groups):
    model = pytrec(dl19_groups, {"ndcg_cut_10"})
    shown = pytrec([(list(range(20)), g) for _, g in dl19_groups], {"ndcg_cut_10"})
    orders = np.array([o for o, _ in dl19_groups])
    grades = np.array([g for _, g in dl19_groups])
    got = ranking.delta_ndcg_batch(orders, grades, 10)
    for value, m, s, g in zip(got, model, shown, grades):
        m, s = m["ndcg_cut_10"], s["ndcg_cut_10"]
        want = 0.0 if max(g) == 0 or s >= 1 - 1e-12 else (m - s) / (1 - s)
        assert abs(value - want) <= MAX_ERROR


# -- hand-computed values ------------------------------------------------------------------------------------


def test_ndcg_hand_computed():
    grades = [0, 2, 0, 1]
    # shown order: gains 0, 2, 0, 1 at ranks 1..4; ideal: 2, 1, 0, 0
    dcg = 2 * disc(1) + 1 * disc(3)
    ideal = 2 * disc(0) + 1 * disc(1)
    assert ranking.ndcg_at_k([0, 1, 2, 3], grades, 10) == pytest.approx(dcg / ideal, abs=1e-15)
    assert ranking.ndcg_at_k([1, 3, 0, 2], grades, 10) == 1.0
    assert ranking.ndcg_at_k([0, 1, 2, 3], grades, 1) == 0.0
    assert ranking.ndcg_at_k([0, 1, 2, 3], [0, 0, 0, 0], 10) == 0.0
    # negative grades count as 0 (trec_eval)
    assert ranking.ndcg_at_k([0, 1], [-1, 2], 10) == pytest.approx((2 * disc(1)) / 2)


def test_recall_hand_computed():
    grades = [0, 2, 0, 1, 3]
    assert ranking.recall_at_k([0, 2, 1, 3, 4], grades, 3) == pytest.approx(1 / 3)
    assert ranking.recall_at_k([0, 2, 1, 3, 4], grades, 3, rel_level=2) == pytest.approx(1 / 2)
    assert ranking.recall_at_k([0, 2, 1, 3, 4], [0] * 5, 3) == 0.0


def test_delta_ndcg_hand_computed():
    grades = [0, 2, 0, 1]
    shown = ranking.ndcg_at_k([0, 1, 2, 3], grades, 10)
    worst = ranking.ndcg_at_k([0, 2, 3, 1], grades, 10)
    assert ranking.delta_ndcg([1, 3, 0, 2], grades) == pytest.approx(1.0)
    assert ranking.delta_ndcg([0, 1, 2, 3], grades) == 0.0
    assert ranking.delta_ndcg([0, 2, 3, 1], grades) == pytest.approx((worst - shown) / (1 - shown))
    assert ranking.delta_ndcg([0, 2, 3, 1], grades, normalise_losses=True) == pytest.approx(
        (worst - shown) / shown
    )
    # shown order already ideal: 0 whatever the answer (issue's definition); normalised losses still count
    assert ranking.delta_ndcg([1, 0], [2, 1]) == 0.0
    lost = ranking.ndcg_at_k([1, 0], [2, 1], 10) - 1.0
    assert ranking.delta_ndcg([1, 0], [2, 1], normalise_losses=True) == pytest.approx(lost)
    assert ranking.delta_ndcg([1, 0], [0, 0]) == 0.0


def test_rbo_hand_computed():
    p = 0.9
    # distinct grades: ideal is [0, 1, 2]; the model swaps the top two.
    # overlaps at depth 1..3: 0/1, 2/2, 3/3 -> (1-p)*(0 + p*1 + p^2*1) + p^3
    want = (1 - p) * (0 + p + p**2) + p**3
    assert ranking.rbo([1, 0, 2], [3, 2, 1], p) == pytest.approx(want, abs=1e-15)
    assert ranking.rbo([0, 1, 2], [3, 2, 1], p) == 1.0
    # ties: swapping the two grade-3 passages costs nothing
    assert ranking.rbo([1, 0, 3, 2], [3, 3, 0, 1], p) == pytest.approx(1.0)
    assert ranking.rbo([0, 1, 3, 2], [3, 3, 0, 1], p) == pytest.approx(1.0)
    # one relevant passage shown last out of 3: overlaps 0/1, 1/2 (the zeros tie), 3/3
    want = (1 - p) * (0 + p * 0.5 + p**2 * 1) + p**3
    assert ranking.rbo([0, 1, 2], [0, 0, 1], p) == pytest.approx(want, abs=1e-15)
    assert ranking.rbo([0, 1, 2], [0, 0, 0], p) == 0.0


def test_order_from_scores_breaks_ties_by_shown_order():
    assert ranking.order_from_scores([5, 5, 9, 0, 9]).tolist() == [2, 4, 0, 1, 3]
    assert ranking.order_from_scores([[1, 2], [2, 2]]).tolist() == [[1, 0], [0, 1]]


def test_bad_parameters_raise():
    with pytest.raises(RankrlError, match="cutoff k"):
        ranking.ndcg_at_k([0, 1], [1, 0], 0)
    with pytest.raises(RankrlError, match="persistence"):
        ranking.rbo([0, 1], [1, 0], 1.0)
    with pytest.raises(RankrlError, match="shape"):
        ranking.ndcg_at_k_batch(np.zeros((1, 2, 2), dtype=int), np.zeros((1, 2, 2)), 3)


# -- properties ------------------------------------------------------------------------------------------------

groups = st.integers(1, 12).flatmap(
    lambda n: st.tuples(st.permutations(list(range(n))), st.lists(st.integers(-1, 3), min_size=n, max_size=n))
)


@settings(max_examples=150, deadline=None)
@given(groups, st.integers(1, 15))
def test_ndcg_and_recall_match_pytrec_eval_on_any_group(group, k):
    order, grades = group
    ref = pytrec([(list(order), grades)], {f"ndcg_cut_{k}", f"recall_{k}"})[0]
    assert abs(ranking.ndcg_at_k(order, grades, k) - ref[f"ndcg_cut_{k}"]) <= MAX_ERROR
    assert abs(ranking.recall_at_k(order, grades, k) - ref[f"recall_{k}"]) <= MAX_ERROR


@settings(max_examples=150, deadline=None)
@given(groups, st.integers(1, 15), st.floats(0.05, 0.95))
def test_metric_ranges_and_ideal_is_best(group, k, p):
    order, grades = group
    ideal = sorted(range(len(grades)), key=lambda i: -max(grades[i], 0))
    relevant = max(grades) > 0
    for f in (ranking.ndcg_at_k, ranking.recall_at_k):
        assert 0.0 <= f(order, grades, k) <= 1.0 + 1e-12
    assert 0.0 <= ranking.rbo(order, grades, p) <= 1.0 + 1e-12
    delta = ranking.delta_ndcg(order, grades, k)
    assert delta <= 1.0 + 1e-12 and math.isfinite(delta)
    assert -1.0 - 1e-12 <= ranking.delta_ndcg(order, grades, k, normalise_losses=True) <= 1.0 + 1e-12
    assert ranking.ndcg_at_k(ideal, grades, k) == pytest.approx(1.0 if relevant else 0.0)
    assert ranking.rbo(ideal, grades, p) == pytest.approx(1.0 if relevant else 0.0)
    assert ranking.delta_ndcg(list(range(len(grades))), grades, k) == 0.0


def rbo_reference(order: list[int], grades: list[int], p: float) -> float:
    """Textbook extrapolated RBO, overlap at each depth maximised over every ideal ordering (brute force)."""
    n = len(order)
    g = [max(x, 0) for x in grades]
    if max(g) == 0:
        return 0.0
    ideals = [
        perm
        for perm in itertools.permutations(range(n))
        if all(g[perm[i]] >= g[perm[i + 1]] for i in range(n - 1))
    ]
    total = 0.0
    for d in range(1, n + 1):
        best = max(len(set(order[:d]) & set(ideal[:d])) for ideal in ideals)
        total += (1 - p) * p ** (d - 1) * best / d
    return total + p**n


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.permutations(list(range(n))), st.lists(st.integers(0, 2), min_size=n, max_size=n)
        )
    ),
    st.floats(0.1, 0.95),
)
def test_rbo_equals_brute_force_reference(group, p):
    order, grades = group
    assert ranking.rbo(order, grades, p) == pytest.approx(rbo_reference(list(order), grades, p), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 10).flatmap(
        lambda n: st.tuples(
            st.permutations(list(range(n))), st.lists(st.integers(0, 3), min_size=n, max_size=n)
        )
    )
)
def test_batch_equals_rows(group):
    order, grades = group
    orders = np.array([order, order[::-1]])
    batch = np.array([grades, grades[::-1]])
    for fn, single in (
        (lambda o, g: ranking.ndcg_at_k_batch(o, g, 5), lambda o, g: ranking.ndcg_at_k(o, g, 5)),
        (lambda o, g: ranking.rbo_batch(o, g, 0.8), lambda o, g: ranking.rbo(o, g, 0.8)),
        (lambda o, g: ranking.recall_at_k_batch(o, g, 3), lambda o, g: ranking.recall_at_k(o, g, 3)),
        (lambda o, g: ranking.delta_ndcg_batch(o, g, 4), lambda o, g: ranking.delta_ndcg(o, g, 4)),
    ):
        values = fn(orders, batch)
        assert values[0] == pytest.approx(single(orders[0], batch[0]))
        assert values[1] == pytest.approx(single(orders[1], batch[1]))
