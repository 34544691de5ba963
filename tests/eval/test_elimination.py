"""The elimination strategy (IRanker): n-1 rounds batched across queries, oracle to the ideal on real DL19."""

from __future__ import annotations

import itertools

import pytest

from rankrl import prompts
from rankrl.core.errors import ConfigError
from rankrl.eval.backends.base import Sampling
from rankrl.eval.backends.oracle import OracleBackend, ideal_ndcg_order
from rankrl.eval.metrics import evaluate
from rankrl.eval.runner import RerankConfig, rerank_benchmark
from rankrl.eval.strategies import Elimination, StrategyOptions, build_strategy, check_fit


def _fit(paradigm):
    return lambda query, texts: prompts.fit_messages(paradigm, query, texts).messages


def _ideal_top(benchmark, depth):
    """nDCG@10 of the best order of each query's first-stage top ``depth`` (deeper ones in first-stage order)."""
    run = {}
    for q in benchmark.queries:
        cands = [d for d, _ in benchmark.first_stage[q]]
        order = ideal_ndcg_order(benchmark.qrels[q], cands[:depth]) + cands[depth:]
        run[q] = [(d, float(len(order) - i)) for i, d in enumerate(order)]
    return evaluate({q: benchmark.qrels[q] for q in benchmark.queries}, run, ["nDCG@10"], rel_level=2).mean["nDCG@10"]


def test_oracle_ranks_dl19_top20_ideally_in_19_batched_rounds(dl19):
    paradigm = prompts.get_paradigm("elimination")
    backend = OracleBackend(dl19.qrels, paradigm)
    strategy = build_strategy("elimination", StrategyOptions(group_size=20))
    result = rerank_benchmark(dl19, strategy, backend, paradigm.parse, _fit(paradigm), Sampling(), RerankConfig(),
                              progress=False)
    queries = len(dl19.queries)
    assert queries == 43
    assert result.evaluation.mean["nDCG@10"] == pytest.approx(_ideal_top(dl19, 20), abs=1e-12)
    assert result.evaluation.mean["nDCG@10"] > result.first_stage_evaluation.mean["nDCG@10"] + 0.2
    # 19 rounds, each one backend call carrying every query's prompt; 19 prompts per query
    assert result.stats.rounds == result.stats.backend_calls == 19
    assert backend.calls == [queries] * 19
    assert result.stats.parse_failures == 0
    for qid, ranking in result.run.items():
        docids = [d for d, _ in ranking]
        assert sorted(docids) == sorted(d for d, _ in dl19.first_stage[qid])
        assert docids[20:] == [d for d, _ in dl19.first_stage[qid]][20:]
        assert all(a > b for a, b in itertools.pairwise(s for _, s in ranking))


def test_prompts_shrink_by_one_each_round_and_failures_drop_the_first_stage_last():
    strategy = Elimination(depth=4)
    shown: list[list[str]] = []

    class Maker:
        def rank(self, docid):
            return "abcde".index(docid)

        def __call__(self, docids):
            shown.append(list(docids))
            return docids

    class Failed:
        class parsed:
            ok = False
            value = None

    run = strategy.run(Maker(), list("abcde"))
    next(run)
    with pytest.raises(StopIteration) as done:
        while True:
            run.send([Failed()])
    assert shown == [list("abcd"), list("abc"), list("ab")]
    assert done.value.value.order == list("abcde")  # every parse failed: the first-stage order


def test_answers_drive_the_order():
    class Maker:
        def rank(self, docid):
            return 0

        def __call__(self, docids):
            return list(docids)

    class Said:
        def __init__(self, value):
            self.parsed = type("P", (), {"ok": True, "value": value})()

    run = Elimination(depth=3).run(Maker(), ["x", "y", "z", "w"])
    assert next(run) == [["x", "y", "z"]]
    assert run.send([Said(0)]) == [["y", "z"]]  # x eliminated first: ranked third
    with pytest.raises(StopIteration) as done:
        run.send([Said(1)])  # z eliminated: y wins
    assert done.value.value.order == ["y", "z", "x", "w"]


def test_settings_and_fit():
    assert Elimination().settings() == {"strategy": "elimination", "depth": 20}
    check_fit("elimination", "elimination")
    with pytest.raises(ConfigError):
        check_fit("elimination", "setwise")
    with pytest.raises(ConfigError, match="elimination depth"):
        Elimination(depth=1)


@pytest.mark.slow
def test_rankrl_eval_strategy_elimination_runs_19_rounds_per_query(tiny_model, shared_data, tmp_path):
    """The command line: a tiny checkpoint trained for elimination, DL19 top-20, 19 rounds for every query."""
    import json
    import shutil

    from rankrl.core.cli import main
    from rankrl.core.metadata import write_metadata

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    write_metadata(model, prompts.get_paradigm("elimination").metadata())
    out = tmp_path / "out"
    code = main(["eval", "--model", str(model), "--benchmark", "trec-dl-2019", "--data-dir", str(shared_data),
                 "--out", str(out), "--max-queries", "2", "--top-k", "20", "--backend", "hf", "--strategy",
                 "elimination", "--group-size", "20", "--max-new-tokens", "8", "--no-progress"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["strategy_settings"] == {"strategy": "elimination", "depth": 20}
    assert (metrics["cost"]["rounds"], metrics["cost"]["prompts"]) == (19, 38)
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    assert len(traces) == 38
