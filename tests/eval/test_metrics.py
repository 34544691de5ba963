"""Metrics: trec_eval numbers on the real DL19/BRIGHT runs, BRIGHT's protocol, and parity with pytrec_eval and
ir_measures to 1e-9 on random runs (hypothesis)."""

from __future__ import annotations

import logging
from pathlib import Path

import ir_measures
import pytest
import pytrec_eval
from hypothesis import given, settings
from hypothesis import strategies as st

from rankrl.core.errors import RankrlError
from rankrl.data.bright import excluded_from_examples, read_examples
from rankrl.data.trec import read_qrels, read_run
from rankrl.eval.metrics import DEFAULT_METRICS, evaluate, parse_metric

TOL = 1e-9


def _pytrec(qrels, run, measure: str, rel_level: int = 1) -> dict[str, float]:
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {measure}, relevance_level=rel_level)
    return {q: v[measure] for q, v in evaluator.evaluate({q: dict(r) for q, r in run.items()}).items()}


def test_dl19_bm25_ndcg10_equals_trec_eval(shared_data: Path) -> None:
    folder = shared_data / "trec-dl"
    qrels = read_qrels(folder / "qrels.dl19-passage.txt")
    run = read_run(folder / "bm25_trec_results_dl19_top100.txt")
    result = evaluate(qrels, run, metrics=DEFAULT_METRICS, rel_level=2)
    assert round(result.mean["nDCG@10"], 4) == 0.5058
    assert result.missing == [] and result.num_queries == 43
    direct = _pytrec(qrels, run, "ndcg_cut_10")
    assert abs(result.mean["nDCG@10"] - sum(direct.values()) / len(direct)) < TOL
    for qid, value in direct.items():
        assert abs(result.per_query[qid]["nDCG@10"] - value) < TOL
    # Binary measures at relevance level 2, as trec_eval -l 2 computes them.
    for name, measure in (("AP", "map"), ("R@100", "recall_100"), ("R@10", "recall_10")):
        direct = _pytrec(qrels, run, measure, rel_level=2)
        assert abs(result.mean[name] - sum(direct.values()) / 43) < TOL
    level1 = evaluate(qrels, run, metrics=["AP", "nDCG@10"], rel_level=1)
    assert level1.mean["AP"] > result.mean["AP"]  # more documents count as relevant at level 1
    assert level1.mean["nDCG@10"] == result.mean["nDCG@10"]  # nDCG uses the raw grades


@pytest.mark.parametrize(("domain", "expected"), [("pony", 19.55), ("theoremqa_theorems", 36.68)])
def test_bright_runs_reproduce_published_ndcg10(shared_data: Path, domain: str, expected: float) -> None:
    fdom = domain.replace("_", "-")
    folder = shared_data / "bright"
    examples = read_examples(folder / "examples" / f"topics.bright-{fdom}-original.jsonl.gz")
    qrels = read_qrels(folder / "qrels" / f"qrels.bright-{fdom}.txt")
    run = read_run(folder / "runs" / f"{domain}.reasonir_gpt4cot_top100.txt")
    result = evaluate(qrels, run, metrics=["nDCG@10"], excluded=excluded_from_examples(examples))
    assert round(100 * result.mean["nDCG@10"], 2) == expected
    direct = _pytrec(qrels, run, "ndcg_cut_10")
    assert abs(result.mean["nDCG@10"] - sum(direct.values()) / len(qrels)) < TOL

    # Excluded ids injected at the top of every ranking (some of them gold documents) change nothing under the
    # protocol, and would change the score without it.
    injected, excluded = {}, {}
    for qid, ranking in run.items():
        fake = [(f"injected-{qid}-{i}", 1000.0 - i) for i in range(3)]
        gold = [(min(qrels[qid]), 999.0)]
        injected[qid] = fake + gold + [(d, s) for d, s in ranking if d != gold[0][0]]
        excluded[qid] = {d for d, _ in fake} | {gold[0][0], "N/A"}
    without = {qid: [(d, s) for d, s in r if d not in excluded[qid]] for qid, r in injected.items()}
    protected = evaluate(qrels, injected, metrics=["nDCG@10", "RR@10", "R@100"], excluded=excluded)
    plain = evaluate(qrels, without, metrics=["nDCG@10", "RR@10", "R@100"])
    assert protected.per_query == plain.per_query
    assert evaluate(qrels, injected, metrics=["nDCG@10"]).mean["nDCG@10"] != protected.mean["nDCG@10"]


def test_leetcode_real_excluded_ids_are_removed(shared_data: Path) -> None:
    """leetcode excludes real documents for every query: listing them first leaves the score unchanged."""
    examples = read_examples(shared_data / "bright" / "examples" / "topics.bright-leetcode-original.jsonl.gz")
    excluded = excluded_from_examples(examples)
    qrels = {ex.qid: {g: 1 for g in ex.gold_ids} for ex in examples}
    base = {ex.qid: [(f"other-{i}", 50.0 - i) for i in range(5)] + [(g, 10.0 - j) for j, g in enumerate(ex.gold_ids)]
            for ex in examples}
    injected = {qid: [(d, 100.0 + k) for k, d in enumerate(sorted(excluded[qid]))] + ranking
                for qid, ranking in base.items()}
    assert all(excluded[qid] for qid in qrels)
    assert evaluate(qrels, injected, excluded=excluded).per_query == evaluate(qrels, base).per_query


def test_missing_queries_score_zero_and_are_warned(caplog) -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 2}}
    run = {"q1": [("a", 1.0)], "q3": [], "other": [("x", 1.0)]}
    with caplog.at_level(logging.WARNING, logger="rankrl.eval.metrics"):
        result = evaluate(qrels, run, metrics=["nDCG@10", "RR@10"])
    assert result.missing == ["q2", "q3"]
    assert result.per_query["q2"] == {"nDCG@10": 0.0, "RR@10": 0.0}
    assert result.mean["nDCG@10"] == pytest.approx(1 / 3, abs=TOL)
    assert "2 of 3 judged queries" in caplog.text and "q2, q3" in caplog.text


def test_dict_rankings_and_unjudged_queries() -> None:
    qrels = {"q1": {"a": 1, "b": 2}, "q2": {"c": 1}, "empty": {}}
    as_lists = {"q1": [("b", 2.0), ("x", 1.5), ("a", 1.0)], "q2": [("y", 3.0), ("c", 1.0)]}
    as_dicts = {q: dict(r) for q, r in as_lists.items()}
    lists = evaluate(qrels, as_lists, excluded={"q2": {"y"}})
    dicts = evaluate(qrels, as_dicts, excluded={"q2": {"y"}})
    assert lists.per_query == dicts.per_query and set(lists.per_query) == {"q1", "q2"}  # "empty" is not judged
    assert as_dicts["q2"] == {"y": 3.0, "c": 1.0}  # the caller's dict is not modified by the exclusion
    assert lists.per_query["q2"]["RR@10"] == 1.0


def test_rr_cut_handles_ties_at_the_cutoff_like_trec_eval() -> None:
    # Ten tied documents: trec_eval orders ties by docid descending, so "d0" (relevant) is 10th of d0..d9
    # plus "z" scored higher -> rank 11: RR@10 = 0, RR = 1/11.
    qrels = {"q": {"d0": 1}}
    run = {"q": [("z", 2.0)] + [(f"d{i}", 1.0) for i in range(10)]}
    result = evaluate(qrels, run, metrics=["RR@10", "RR", "RR@11"])
    assert result.mean == {"RR@10": 0.0, "RR": pytest.approx(1 / 11, abs=TOL), "RR@11": pytest.approx(1 / 11, abs=TOL)}


@pytest.mark.parametrize(("name", "canonical"), [
    ("nDCG@10", "nDCG@10"), ("ndcg@5", "nDCG@5"), ("MRR@10", "RR@10"), ("MAP", "AP"), ("Recall@100", "R@100"),
    ("R(rel=2)@100", "R(rel=2)@100"), ("AP@10", "AP@10"), ("P@5", "P@5"), ("nDCG", "nDCG"),
    ("success@5", "Success@5"), ("judged@10", "Judged@10"), ("Rprec", "Rprec"), ("bpref", "Bpref"),
    ("Bpref(rel=2)", "Bpref(rel=2)"),
])
def test_metric_names(name: str, canonical: str) -> None:
    assert parse_metric(name).name == canonical


@pytest.mark.parametrize(("name", "words"), [
    ("MRR@ten", "unknown metric"), ("R", "needs a cutoff"), ("nDCG(rel=2)@10", "does not use a relevance level"),
    ("RR@0", "positive"), ("BLEU", "unknown metric"), ("Success", "needs a cutoff"), ("Rprec@10", "no cutoff"),
    ("Judged(rel=1)@10", "does not use a relevance level"),
])
def test_bad_metric_names(name: str, words: str) -> None:
    with pytest.raises(RankrlError, match=words):
        parse_metric(name)


def test_evaluate_input_errors() -> None:
    with pytest.raises(RankrlError, match="qrels are empty"):
        evaluate({}, {"q": [("a", 1.0)]})
    with pytest.raises(RankrlError, match="twice"):
        evaluate({"q": {"a": 1}}, {"q": [("a", 1.0), ("a", 0.5)]})
    with pytest.raises(RankrlError, match="listed twice"):
        evaluate({"q": {"a": 1}}, {"q": [("a", 1.0)]}, metrics=["nDCG@10", "ndcg@10"])


# --- parity on random runs ---------------------------------------------------------------------------------

DOCS = [f"d{i}" for i in range(14)]
PARITY_METRICS = ["nDCG@5", "nDCG@10", "nDCG@20", "nDCG", "RR@10", "RR@3", "RR", "R@10", "R@100", "P@5",
                  "AP", "AP@10"]


@st.composite
def collections(draw, ties: bool):
    qids = draw(st.lists(st.sampled_from([f"q{i}" for i in range(6)]), min_size=1, max_size=6, unique=True))
    qrels, run = {}, {}
    for qid in qids:
        judged = draw(st.lists(st.sampled_from(DOCS), min_size=1, max_size=10, unique=True))
        qrels[qid] = {d: draw(st.integers(0, 3)) for d in judged}
        retrieved = draw(st.lists(st.sampled_from(DOCS), min_size=1, max_size=len(DOCS), unique=True))
        if ties:
            scores = [float(draw(st.integers(0, 3))) for _ in retrieved]
        else:
            # Distinct in single precision: trec_eval compares scores as C floats (ir_measures' RR@k does not).
            scores = sorted(draw(st.lists(st.floats(-100, 100, allow_nan=False, width=32), min_size=len(retrieved),
                                          max_size=len(retrieved), unique=True)), reverse=True)
        run[qid] = sorted(zip(retrieved, scores), key=lambda x: -x[1])
    return qrels, run


def _trec_order(ranking):
    return sorted(ranking, key=lambda item: (-item[1], _Desc(item[0])))


class _Desc:
    def __init__(self, s):
        self.s = s

    def __lt__(self, other):
        return self.s > other.s


@settings(max_examples=60, deadline=None)
@given(data=collections(ties=True), rel_level=st.sampled_from([1, 2]))
def test_parity_with_pytrec_eval_including_ties(data, rel_level) -> None:
    qrels, run = data
    result = evaluate(qrels, run, metrics=PARITY_METRICS, rel_level=rel_level)
    for name in PARITY_METRICS:
        m = parse_metric(name)
        if m.family == "RR" and m.cutoff is not None:
            truncated = {q: _trec_order(r)[: m.cutoff] for q, r in run.items()}
            direct = _pytrec(qrels, truncated, "recip_rank", rel_level)
        else:
            direct = _pytrec(qrels, run, m.pytrec_measure(), rel_level)
        for qid in qrels:
            assert abs(result.per_query[qid][name] - direct[qid]) < TOL, (name, qid)
        assert abs(result.mean[name] - sum(direct.values()) / len(qrels)) < TOL


@settings(max_examples=60, deadline=None)
@given(data=collections(ties=False), rel_level=st.sampled_from([1, 2]))
def test_parity_with_ir_measures(data, rel_level) -> None:
    qrels, run = data
    result = evaluate(qrels, run, metrics=PARITY_METRICS, rel_level=rel_level)
    names = {}
    for name in PARITY_METRICS:
        m = parse_metric(name)
        names[name] = m.name if m.family == "nDCG" or rel_level == 1 else \
            f"{m.family}(rel={rel_level})" + (f"@{m.cutoff}" if m.cutoff else "")
    measures = [ir_measures.parse_measure(n) for n in names.values()]
    ir_run = {q: dict(r) for q, r in run.items()}
    got = {(str(x.measure), x.query_id): x.value for x in ir_measures.iter_calc(measures, qrels, ir_run)}
    for name, ir_name in names.items():
        for qid in qrels:
            assert abs(result.per_query[qid][name] - got.get((ir_name, qid), 0.0)) < TOL, (name, qid)


def test_evaluate_is_independent_of_the_piece_size(monkeypatch):
    """Runs are converted and scored in cache-sized pieces; the result must not depend on where pieces end."""
    import random

    import rankrl.eval.metrics as metrics_module

    rng = random.Random(3)
    qrels = {f"q{i}": {f"d{j}": rng.choice((0, 0, 1, 2)) for j in range(30)} for i in range(40)}
    run = {q: sorted(((f"d{j}", rng.random()) for j in range(40)), key=lambda p: -p[1]) for q in qrels}
    whole = metrics_module.evaluate(qrels, run, rel_level=2)
    monkeypatch.setattr(metrics_module, "_PIECE_DOCS", 7)
    pieces = metrics_module.evaluate(qrels, run, rel_level=2)
    assert pieces.mean == whole.mean and pieces.per_query == whole.per_query and pieces.missing == whole.missing


def test_new_measures_equal_pytrec_eval_on_dl19(shared_data: Path) -> None:
    folder = shared_data / "trec-dl"
    qrels = read_qrels(folder / "qrels.dl19-passage.txt")
    run = read_run(folder / "bm25_trec_results_dl19_top100.txt")
    result = evaluate(qrels, run, metrics=["Success@1", "Success@10", "Rprec", "Bpref"], rel_level=2)
    for name, measure in (("Success@1", "success_1"), ("Success@10", "success_10"), ("Rprec", "Rprec"),
                          ("Bpref", "bpref")):
        direct = _pytrec(qrels, run, measure, rel_level=2)
        assert direct and all(abs(result.per_query[q][name] - v) < TOL for q, v in direct.items())
    assert 0.0 < result.mean["Rprec"] < result.mean["Success@10"] <= 1.0
