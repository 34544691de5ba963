"""BM25 first stage: the Lucene formula, deterministic tie-breaking, recorded parameters, and a sane ranking
of the real DL19 candidate pool."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import pytrec_eval

from rankrl.core.errors import RankrlError
from rankrl.data.bm25 import bm25_run
from rankrl.data.records import Passage, Query


def _ndcg10(qrels, run) -> float:
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"})
    per_query = evaluator.evaluate({q: {d: float(s) for d, s in ranking} for q, ranking in run.items()})
    # Queries in the qrels but absent from the run count as 0 (trec_eval -c semantics).
    return sum(per_query.get(q, {}).get("ndcg_cut_10", 0.0) for q in qrels) / len(qrels)


@pytest.fixture(scope="module")
def dl19(shared_data):
    from rankrl.data.rankgpt import read_candidates
    from rankrl.data.trec import read_qrels

    queries, passages, run = read_candidates(
        shared_data / "trec-dl" / "bm25_retrieve_results_dl19_top100.json"
    )
    qrels = read_qrels(shared_data / "trec-dl" / "qrels.dl19-passage.txt")
    return queries, passages, run, qrels


def test_scores_follow_lucene_bm25():
    # No stopwords in this corpus; tokens are lower-cased words of 2+ characters.
    docs = {"d1": "alpha beta beta", "d2": "alpha gamma", "d3": "delta delta delta epsilon"}
    passages = {d: Passage(d, t) for d, t in docs.items()}
    run, _ = bm25_run({"q": Query("q", "beta alpha")}, passages, k=10, k1=1.2, b=0.75)
    lengths = {d: len(t.split()) for d, t in docs.items()}
    avgdl = sum(lengths.values()) / len(lengths)

    def idf(df: int) -> float:
        return math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))

    def term(tf: int, d: str) -> float:
        return tf / (tf + 1.2 * (1 - 0.75 + 0.75 * lengths[d] / avgdl))

    expected = {
        "d1": idf(2) * term(1, "d1") + idf(1) * term(2, "d1"),
        "d2": idf(2) * term(1, "d2"),
    }
    assert [d for d, _ in run["q"]] == ["d1", "d2"]  # d3 shares no term: left out
    for docid, score in run["q"]:
        assert score == pytest.approx(expected[docid], rel=1e-5)


def test_ties_break_by_docid_whatever_the_corpus_order():
    texts = {"c": "same words here", "a": "same words here", "b": "same words here", "z": "other"}
    forward = {d: Passage(d, t) for d, t in texts.items()}
    backward = {d: forward[d] for d in reversed(list(forward))}
    query = {"q": Query("q", "same words")}
    run1, _ = bm25_run(query, forward, k=2)
    run2, _ = bm25_run(query, backward, k=2)
    assert [d for d, _ in run1["q"]] == ["a", "b"]
    assert run1 == run2


def test_query_without_known_terms_gets_empty_ranking_and_is_counted():
    passages = {"d1": Passage("d1", "apples and pears"), "d2": Passage("d2", "pears")}
    run, params = bm25_run({"q1": Query("q1", "pears"), "q2": Query("q2", "zebra")}, passages, k=5)
    assert run["q2"] == []
    assert [d for d, _ in run["q1"]] == ["d2", "d1"]  # shorter document first (length normalisation)
    assert params["queries_without_matching_terms"] == 1


def test_titles_are_indexed():
    passages = {"d1": Passage("d1", "body text", title="Photosynthesis"), "d2": Passage("d2", "body text")}
    run, _ = bm25_run({"q": Query("q", "photosynthesis")}, passages)
    assert [d for d, _ in run["q"]] == ["d1"]


def test_stemming_matches_inflected_forms():
    passages = {"d1": Passage("d1", "the runner was running"), "d2": Passage("d2", "a quiet evening")}
    query = {"q": Query("q", "runs")}
    plain, params_plain = bm25_run(query, passages)
    stemmed, params_stem = bm25_run(query, passages, stemmer="english")
    assert plain["q"] == []
    assert [d for d, _ in stemmed["q"]] == ["d1"]
    assert params_plain["stemmer"] is None and params_stem["stemmer"] == "english"


def test_params_record_every_setting():
    _, params = bm25_run({"q": Query("q", "x1 y2")}, {"d": Passage("d", "x1")}, k=7, k1=1.1, b=0.3)
    assert params["library"] == "bm25s" and params["library_version"]
    assert (params["k"], params["k1"], params["b"], params["method"]) == (7, 1.1, 0.3, "lucene")
    assert params["num_passages"] == 1 and params["num_queries"] == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "k must be >= 1"),
        ({"b": 1.5}, "0 <= b <= 1"),
        ({"stemmer": "klingon"}, "unknown BM25 stemmer 'klingon'"),
    ],
)
def test_bad_settings_are_user_errors(kwargs, message):
    with pytest.raises(RankrlError, match=message):
        bm25_run({"q": Query("q", "x")}, {"d": Passage("d", "x")}, **kwargs)


def test_empty_corpus_is_a_user_error():
    with pytest.raises(RankrlError, match="corpus is empty"):
        bm25_run({"q": Query("q", "x")}, {})


def test_dl19_pool_ranking_beats_random_and_is_deterministic(dl19, tmp_path):
    from rankrl.data.trec import read_run, write_run

    queries, passages, _, qrels = dl19
    run, params = bm25_run(queries, passages, k=100, stemmer="english")
    again, _ = bm25_run(queries, passages, k=100, stemmer="english")
    assert run == again
    assert set(run) == set(queries) and all(len(r) == 100 for r in run.values())
    assert params["queries_without_matching_terms"] == 0

    bm25 = _ndcg10(qrels, run)
    rng = random.Random(0)
    shuffles = []
    for _ in range(20):
        shuffled = {}
        for qid, ranking in run.items():
            docs = [d for d, _ in ranking]
            rng.shuffle(docs)
            shuffled[qid] = [(d, float(len(docs) - i)) for i, d in enumerate(docs)]
        shuffles.append(_ndcg10(qrels, shuffled))
    random_mean = sum(shuffles) / len(shuffles)
    # Same 100 candidates per query, so the difference is the ordering alone.
    assert bm25 > random_mean + 0.1, (bm25, random_mean)
    assert bm25 > max(shuffles)

    path = tmp_path / "bm25.trec"
    write_run(path, run, tag="bm25")
    per_query: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        qid, _, _, _, score, tag = line.split()
        assert tag == "bm25"
        per_query.setdefault(qid, []).append(float(score))
    assert all(a > b for scores in per_query.values() for a, b in itertools.pairwise(scores))
    assert {q: [d for d, _ in r] for q, r in read_run(path).items()} == {
        q: [d for d, _ in r] for q, r in run.items()
    }
