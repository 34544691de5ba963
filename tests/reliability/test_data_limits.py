"""Second probing pass, data files: out-of-range qrels grades (item 3), tied first-stage scores (item 6) and
deeply nested JSON (item 11). Each case failed on the code before the fix: a grade of 3e9 made trec_eval allocate
tens of GB, tied scores were scored in trec_eval's order but reranked in file order (a false gain), and 200,000
``[`` gave a ``RecursionError`` traceback.
"""

from __future__ import annotations

import json

import pytest
from reliability_support import assert_clean_error, run_cli, tree, write_local_benchmark

from rankrl.core.errors import DataFormatError
from rankrl.data.trec import MAX_ABS_GRADE, read_qrels, read_run, trec_eval_order

DEEP = "[" * 200_000


# =========================================================================================== item 3: grades


@pytest.mark.parametrize("grade", ["3000000000", "100000000", "-5000", "100000000000000000000"])
def test_qrels_grade_outside_the_bound_is_an_error_naming_the_line(grade, tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(f"q1 0 d0 1\nq1 0 d1 {grade}\n")
    with pytest.raises(DataFormatError, match=rf"q.txt:2: relevance grade {grade} is outside "
                                              rf"-{MAX_ABS_GRADE}\.\.{MAX_ABS_GRADE}"):
        read_qrels(path)


def test_qrels_grades_at_the_bound_and_negative_grades_are_kept(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(f"q1 0 d0 {MAX_ABS_GRADE}\nq1 0 d1 -2\nq1 0 d2 0\n")
    assert read_qrels(path) == {"q1": {"d0": MAX_ABS_GRADE, "d1": -2, "d2": 0}}


def test_score_with_a_huge_grade_exits_2_without_allocating(rankrl, tmp_path):
    """``rankrl score`` with grade 3e9 grew to 22 GB before the bound; now it stops at the line."""
    qrels = tmp_path / "big.qrels"
    qrels.write_text("q1 0 d0 1\nq1 0 d1 3000000000\n")
    run = tmp_path / "r.run"
    run.write_text("q1 Q0 d0 1 2.0 t\nq1 Q0 d1 2 1.0 t\n")
    result = rankrl.run(["score", qrels, run], cwd=tmp_path, timeout=120)
    assert_clean_error(result, "big.qrels:2", "relevance grade 3000000000")


# =========================================================================================== item 6: ties


def test_tied_run_scores_are_read_in_trec_eval_order(tmp_path):
    """trec_eval sorts by score (single precision) descending, then docid descending; file order plays no part."""
    path = tmp_path / "r.run"
    path.write_text("q1 Q0 d1 1 1.0 t\nq1 Q0 d3 2 1.0 t\nq1 Q0 d2 3 1.0 t\nq1 Q0 top 4 2.0 t\n"
                    "q1 Q0 a 5 1.00000001 t\nq1 Q0 z 6 0.5 t\n")
    assert [d for d, _ in read_run(path)["q1"]] == ["top", "d3", "d2", "d1", "a", "z"]
    # 1.00000001 == 1.0 as a C float: it ties with the 1.0 documents and sorts by docid ("a" < "d1")
    assert [d for d, _ in trec_eval_order([("a", 1.0), ("b", 1.0), ("c", 3.0)])] == ["c", "b", "a"]


def test_tied_first_stage_is_scored_in_the_order_it_is_reranked(tmp_path):
    """The same ranking scored through pytrec_eval (which applies trec_eval's tie-break) and as the explicit list
    a reranker would keep: equal, so an all-ties run gives no false gain."""
    from rankrl.eval.metrics import evaluate

    qrels = {"q1": {"d0": 2, "d1": 0, "d2": 0, "d3": 0}}
    path = tmp_path / "r.run"
    path.write_text("".join(f"q1 Q0 d{i} {i + 1} 1.0 t\n" for i in range(4)))  # d0 (relevant) first in the file
    first = read_run(path)
    kept = {"q1": [(d, float(4 - i)) for i, (d, _) in enumerate(first["q1"])]}  # top-k order, strictly decreasing
    assert evaluate(qrels, kept, ["nDCG@10"]).mean == evaluate(qrels, first, ["nDCG@10"]).mean


@pytest.mark.slow
def test_eval_on_an_all_ties_run_reports_no_false_gain(tiny_model, tmp_path):
    """The probe: ``rankrl eval --top-k 1`` on a run whose scores are all 1.0 reported nDCG@10 1.0 against a first
    stage of 0.367. With top-k 1 nothing can move, so the reranked run must score exactly the first stage."""
    bench = write_local_benchmark(tmp_path / "bench", qids=("q1", "q2"), ndocs=6)
    (bench / "run.trec").write_text("".join(f"{q} Q0 d{i} {i + 1} 1.0 bm25\n" for q in ("q1", "q2") for i in range(6)))
    out = tmp_path / "out"
    result = run_cli(["eval", "--model", tiny_model, "--benchmark", f"local:{bench}", "--out", out, "--top-k", "1",
                      "--max-new-tokens", "8", "--device", "cpu", "--no-progress"], cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    bench_metrics = json.loads((out / "metrics.json").read_text())
    text = json.dumps(bench_metrics)
    reranked = _find(bench_metrics, "metrics")
    first = _find(bench_metrics, "first_stage")
    assert reranked and first, text
    assert reranked["nDCG@10"] == pytest.approx(first["nDCG@10"]), text
    assert first["nDCG@10"] < 1.0, text


def _find(obj, key):
    """The first value under ``key`` in nested dicts/lists that is a dict holding nDCG@10."""
    if isinstance(obj, dict):
        if isinstance(obj.get(key), dict) and "nDCG@10" in obj[key]:
            return obj[key]
        for value in obj.values():
            found = _find(value, key)
            if found:
                return found
    elif isinstance(obj, list):
        for value in obj:
            found = _find(value, key)
            if found:
                return found
    return None


# =========================================================================================== item 11: nesting


def test_deeply_nested_jsonl_line_is_a_data_format_error(tmp_path):
    from rankrl.data.jsonl import read_queries

    path = tmp_path / "queries.jsonl"
    path.write_text('{"qid": "q1", "text": "a"}\n' + DEEP + "\n")
    with pytest.raises(DataFormatError, match="queries.jsonl:2: JSON nested too deeply"):
        read_queries(path)


def test_deeply_nested_rankgpt_file_is_a_data_format_error(tmp_path):
    from rankrl.data.rankgpt import read_candidates

    path = tmp_path / "cands.json"
    path.write_text(DEEP)
    with pytest.raises(DataFormatError, match="cands.json: JSON nested too deeply"):
        read_candidates(path)


def test_data_build_with_deeply_nested_corpus_exits_2(rankrl, tmp_path):
    bench = write_local_benchmark(tmp_path / "bench")
    with open(bench / "corpus.jsonl", "a", encoding="utf-8") as handle:
        handle.write(DEEP + "\n")
    before = tree(tmp_path)
    result = rankrl.run(["data", "build", "--data-source", f"benchmark:local:{bench}", "--paradigm", "setwise",
                         "--group-size", "4", "--out", tmp_path / "rows", "--no-progress"], cwd=tmp_path, timeout=300)
    assert_clean_error(result, "corpus.jsonl:7", "nested too deeply")
    assert tree(tmp_path) == before


def test_score_bright_examples_deeply_nested_exits_2(rankrl, tmp_path):
    qrels = tmp_path / "q.qrels"
    qrels.write_text("q1 0 d0 1\n")
    run = tmp_path / "r.run"
    run.write_text("q1 Q0 d0 1 1.0 t\n")
    examples = tmp_path / "ex.jsonl"
    examples.write_text(DEEP + "\n")
    result = rankrl.run(["score", qrels, run, "--bright-examples", examples], cwd=tmp_path, timeout=120)
    assert_clean_error(result, "ex.jsonl:1", "nested too deeply")


def test_nested_json_limit_does_not_touch_ordinary_files(tmp_path):
    from rankrl.data.jsonl import read_queries

    path = tmp_path / "queries.jsonl"
    path.write_text(json.dumps({"qid": "q1", "text": "a", "meta": [[[[1]]]]}) + "\n")
    assert list(read_queries(path)) == ["q1"]


