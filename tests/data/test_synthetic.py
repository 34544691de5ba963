"""The synthetic benchmark: deterministic per seed, disjoint splits, one relevant passage per query whose
relevance shows where the task says it does, a first stage that carries no signal, and clear errors."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from rankrl.core.errors import ConfigError
from rankrl.data.synthetic import FILLER, KEYWORDS, MARKER, synthetic_benchmark


def _as_tuple(b):
    return (b.queries, b.passages, b.qrels, b.first_stage)


@pytest.mark.parametrize("task", ["match", "marker"])
def test_same_seed_same_benchmark_other_seed_differs(task):
    a = synthetic_benchmark(20, 4, 7, "train", task=task)
    b = synthetic_benchmark(20, 4, 7, "train", task=task)
    c = synthetic_benchmark(20, 4, 8, "train", task=task)
    assert _as_tuple(a) == _as_tuple(b)
    assert [p.text for p in a.passages.values()] != [p.text for p in c.passages.values()]


def test_splits_are_disjoint_and_independent():
    train = synthetic_benchmark(50, 4, 0, "train", task="marker")
    test = synthetic_benchmark(50, 4, 0, "test", task="marker")
    assert not set(train.queries) & set(test.queries)
    assert not set(train.passages) & set(test.passages)
    assert all(q.startswith("train-") for q in train.queries) and all(q.startswith("test-") for q in test.queries)
    # independent random streams, not the same texts under other ids
    assert [p.text for p in train.passages.values()] != [p.text for p in test.passages.values()]


def test_disjoint_keywords_split_the_query_vocabulary():
    train = synthetic_benchmark(200, 4, 0, "train", task="match", disjoint_keywords=True)
    test = synthetic_benchmark(200, 4, 0, "test", task="match", disjoint_keywords=True)
    train_words = {q.text for q in train.queries.values()}
    test_words = {q.text for q in test.queries.values()}
    assert train_words and test_words and not train_words & test_words
    assert train_words | test_words <= set(KEYWORDS)


@pytest.mark.parametrize("task", ["match", "marker"])
def test_shape_one_relevant_per_query_and_run_covers_the_group(task):
    b = synthetic_benchmark(30, 5, 3, "test", task=task, passage_words=6)
    assert len(b.queries) == 30 and len(b.passages) == 150
    for qid, judged in b.qrels.items():
        assert len(judged) == 5 and sorted(judged.values()) == [0, 0, 0, 0, 1]
        ranked = b.first_stage[qid]
        assert sorted(d for d, _ in ranked) == sorted(judged)
        scores = [s for _, s in ranked]
        assert all(x > y for x, y in itertools.pairwise(scores))  # strictly decreasing
    assert b.provenance["task"] == task and b.provenance["seed"] == 3 and b.provenance["split"] == "test"
    assert b.name == f"synthetic-{task}-test"


def test_marker_task_relevance_shows_in_the_passage_itself():
    b = synthetic_benchmark(100, 4, 1, "train", task="marker")
    for qid, judged in b.qrels.items():
        keyword = b.queries[qid].text
        for docid, grade in judged.items():
            words = b.passages[docid].text.split()
            assert (MARKER in words) == (grade == 1)
            assert keyword in words  # every passage shares the query's keyword: only the marker tells them apart
            assert set(words) <= set(FILLER) | {keyword, MARKER}


def test_marker_at_start_is_the_first_word_of_the_relevant_passage_only():
    b = synthetic_benchmark(100, 4, 1, "train", task="marker", marker_position="start")
    for judged in b.qrels.values():
        for docid, grade in judged.items():
            words = b.passages[docid].text.split()
            assert (words[0] == MARKER) == (grade == 1)
            assert words.count(MARKER) == grade


def test_match_task_only_the_relevant_passage_holds_the_query_keyword():
    b = synthetic_benchmark(100, 4, 2, "train", task="match")
    for qid, judged in b.qrels.items():
        keyword = b.queries[qid].text
        carried = []
        for docid, grade in judged.items():
            words = b.passages[docid].text.split()
            kws = [w for w in words if w in KEYWORDS]
            assert len(kws) == 1  # one keyword per passage
            carried.append(kws[0])
            assert (kws[0] == keyword) == (grade == 1)
        assert len(set(carried)) == len(carried)  # distractors are all different


def test_first_stage_order_carries_no_relevance_signal():
    b = synthetic_benchmark(2000, 4, 0, "train", task="marker")
    ranks = Counter()
    for qid, ranked in b.first_stage.items():
        rank = [d for d, _ in ranked].index(next(d for d, g in b.qrels[qid].items() if g))
        ranks[rank] += 1
    # each of 4 ranks expects 500; a 6-sigma band (sigma ~ 19.4) keeps this from ever failing by chance
    assert all(380 < ranks[r] < 620 for r in range(4)), ranks


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "dev"}, "split 'dev'"),
        ({"task": "topic"}, "task 'topic'"),
        ({"num_queries": 0}, "num_queries"),
        ({"group_size": 1}, "group_size"),
        ({"group_size": len(KEYWORDS) + 1}, "group_size"),
        ({"passage_words": -1}, "passage_words"),
        ({"marker_position": "end"}, "marker_position"),
    ],
)
def test_bad_settings_raise_config_error(kwargs, message):
    args = {"num_queries": 3, "group_size": 4, "seed": 0, **kwargs}
    with pytest.raises(ConfigError, match=message):
        synthetic_benchmark(**args)


def test_round_trips_through_the_local_benchmark_format(tmp_path):
    from rankrl.data.benchmarks import load_benchmark, write_local_benchmark

    b = synthetic_benchmark(10, 4, 0, "test", task="marker")
    write_local_benchmark(b, tmp_path / "heldout")
    loaded = load_benchmark(f"local:{tmp_path / 'heldout'}")
    assert loaded.qrels == {q: {d: g for d, g in judged.items()} for q, judged in b.qrels.items()}
    assert {q: [d for d, _ in r] for q, r in loaded.first_stage.items()} == {
        q: [d for d, _ in r] for q, r in b.first_stage.items()
    }
    assert {d: p.text for d, p in loaded.passages.items()} == {d: p.text for d, p in b.passages.items()}
