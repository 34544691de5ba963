"""rankrl's metrics against trec_eval's own test suite (usnistgov/trec_eval ``test/``, see fixtures/trec_eval/README.md).

Every expected value is a line of trec_eval's ``out.test.*`` files, printed to 4 decimals; rankrl must agree to
that precision for every measure it supports, per query and for ``all``, including ``-c`` (missing queries score
0) and ``-M100`` (depth). ``results.trunc`` has extra columns after the tag, which trec_eval ignores.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from rankrl.data.trec import read_qrels, read_run
from rankrl.eval.metrics import evaluate

FIXTURES = Path(__file__).parent / "fixtures" / "trec_eval"
RUN_OF = {"out.test.aq": "results.test", "out.test.aqc": "results.trunc", "out.test.aqcM": "results.trunc",
          "out.test.meas_params": "results.test"}
DEPTH_OF = {"out.test.aqcM": 100}


def _rankrl_name(measure: str) -> str:
    """trec_eval's measure name as rankrl spells it."""
    fixed = {"ndcg": "nDCG", "map": "AP", "recip_rank": "RR", "Rprec": "Rprec", "bpref": "Bpref"}
    if measure in fixed:
        return fixed[measure]
    family, k = re.fullmatch(r"(P|recall|ndcg_cut|map_cut|success)_(\d+)", measure).groups()
    return {"P": "P", "recall": "R", "ndcg_cut": "nDCG", "map_cut": "AP", "success": "Success"}[family] + f"@{k}"


def _expected() -> dict[str, dict[str, dict[str, float]]]:
    """file -> rankrl measure -> qid (or 'all') -> value."""
    table: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for line in (FIXTURES / "expected.tsv").read_text().splitlines()[1:]:
        source, measure, qid, value = line.split("\t")
        table[source][_rankrl_name(measure)][qid] = float(value)
    return table


EXPECTED = _expected()


@pytest.mark.parametrize("source", sorted(EXPECTED))
def test_every_supported_measure_equals_trec_eval(source: str) -> None:
    qrels = read_qrels(FIXTURES / "qrels.test.gz")
    run = read_run(FIXTURES / f"{RUN_OF[source]}.gz")
    expected = EXPECTED[source]
    result = evaluate(qrels, run, metrics=sorted(expected), depth=DEPTH_OF.get(source))
    compared = 0
    for name, values in expected.items():
        for qid, value in values.items():
            got = result.mean[name] if qid == "all" else result.per_query[qid][name]
            assert round(got, 4) == pytest.approx(value, abs=1e-9), (source, name, qid, got, value)
            compared += 1
    assert compared == sum(len(values) for values in expected.values()) >= 44


def test_suite_covers_the_new_measures() -> None:
    names = {name for table in EXPECTED.values() for name in table}
    assert {"Rprec", "Bpref", "Success@1", "Success@5", "Success@2", "Success@20"} <= names
    # -M100 changes values against the same run without it: the depth option is exercised, not a no-op.
    assert EXPECTED["out.test.aqcM"]["P@200"]["all"] != EXPECTED["out.test.aqc"]["P@200"]["all"]


def test_trunc_run_extra_columns_read_as_trec_eval(caplog: pytest.LogCaptureFixture) -> None:
    run = read_run(FIXTURES / "results.trunc.gz")
    assert sum(map(len, run.values())) == 584
    assert "FBIS3-27619" in dict(run["301"])  # docid is the 3rd column; trailing junk after the tag is ignored
    assert "5 line(s) have more than 6 columns" in caplog.text


def test_depth_equals_truncating_the_run_in_trec_eval_order() -> None:
    qrels = read_qrels(FIXTURES / "qrels.test.gz")
    run = read_run(FIXTURES / "results.test.gz")  # read_run returns trec_eval's order
    cut = {qid: ranking[:50] for qid, ranking in run.items()}
    metrics = ["AP", "Bpref", "Rprec", "nDCG", "R@100", "Judged@100"]
    assert evaluate(qrels, run, metrics, depth=50).per_query == evaluate(qrels, cut, metrics).per_query
    assert evaluate(qrels, run, metrics, depth=50).mean != evaluate(qrels, run, metrics).mean


def test_judged_at_k_is_precision_with_every_judged_document_relevant() -> None:
    qrels = read_qrels(FIXTURES / "qrels.test.gz")  # grades 0 and 1: judged non-relevant documents included
    run = read_run(FIXTURES / "results.test.gz")  # 500 documents per query: k <= 500 is P@k exactly
    all_relevant = {qid: {docid: 1 for docid in judged} for qid, judged in qrels.items()}
    for k in (5, 10, 100, 500):
        judged = evaluate(qrels, run, [f"Judged@{k}"]).per_query
        precision = evaluate(all_relevant, run, [f"P@{k}"]).per_query
        assert {q: v[f"Judged@{k}"] for q, v in judged.items()} == {q: v[f"P@{k}"] for q, v in precision.items()}
    values = evaluate(qrels, run, ["Judged@10", "Judged@1000"]).per_query
    assert all(v["Judged@10"] == 1.0 for v in values.values())  # the pool covers every top 10
    assert all(v["Judged@1000"] == v["Judged@500"] > 0.0 for v in  # 500 retrieved: divided by 500, not 1000
               evaluate(qrels, run, ["Judged@500", "Judged@1000"]).per_query.values())


def test_new_measures_equal_ir_measures() -> None:
    import ir_measures

    qrels = read_qrels(FIXTURES / "qrels.test.gz")
    run = read_run(FIXTURES / "results.test.gz")
    names = ["Judged@10", "Judged@1000", "Success@5", "Rprec", "Bpref"]
    ours = evaluate(qrels, run, names).per_query
    measures = [ir_measures.parse_measure(n) for n in names]
    theirs = {(m.query_id, str(m.measure)): m.value for m in ir_measures.iter_calc(
        measures, qrels, {q: dict(r) for q, r in run.items()})}
    for qid, values in ours.items():
        for name, measure in zip(names, measures):
            assert values[name] == pytest.approx(theirs[(qid, str(measure))], abs=1e-9), (qid, name)
