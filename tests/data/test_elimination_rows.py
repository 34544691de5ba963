"""Elimination rows: a group becomes its n-1 ideal elimination steps (data.elimination_rows + data.rows hook)."""

from __future__ import annotations

import itertools

import pytest

from rankrl.data.elimination_rows import elimination_order, elimination_steps
from rankrl.data.records import Benchmark, Passage, Query
from rankrl.data.rows import RowsConfig, rows_from_benchmark


def test_order_and_steps_by_hand():
    # grades of a, b, c, d: the two 0s go first (d, shown last, before b), then c (1); a (2) remains
    assert elimination_order([2, 0, 1, 0]) == [3, 1, 2]
    assert elimination_steps(list("abcd"), [2, 0, 1, 0]) == [("a", "b", "c", "d"), ("a", "b", "c"), ("a", "c")]
    assert elimination_steps(["x"], [1]) == []
    with pytest.raises(ValueError):
        elimination_steps(["x", "y"], [1])


def test_rows_for_the_elimination_paradigm_are_steps():
    passages = {f"p{i}": Passage(f"p{i}", f"passage number {i}") for i in range(6)}
    bench = Benchmark(
        name="toy", queries={"q1": Query("q1", "which passage")}, passages=passages,
        qrels={"q1": {"p0": 2, "p3": 1}}, first_stage={"q1": [(f"p{i}", 10.0 - i) for i in range(6)]}, excluded={},
    )
    result = rows_from_benchmark(bench, RowsConfig(paradigm="elimination", group_size=4, top_n=6, seed=0))
    rows = result.rows
    assert [len(r["docids"]) for r in rows] == [4, 3, 2]
    first = rows[0]
    assert first["paradigm"] == "elimination" and first["prompt"][-1]["role"] == "assistant"
    # each step drops the lowest-graded passage still shown (ties: the one shown last); relevant ones stay
    for before, after in itertools.pairwise(rows):
        gone = set(before["docids"]) - set(after["docids"])
        assert len(gone) == 1
        (dropped,) = gone
        grades = dict(zip(before["docids"], before["relevance"]))
        assert grades[dropped] == min(before["relevance"])
    assert set(rows[-1]["docids"]) >= {"p0"}
    assert rows[-1]["relevance"].count(2) == 1
    assert all("passage 1: " in r["prompt"][1]["content"] for r in rows)
