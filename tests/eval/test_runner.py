"""Reranking a benchmark: resume after an interruption, repeats, fusion, query selection, missing texts."""

from __future__ import annotations

import dataclasses

import pytest

from rankrl import prompts
from rankrl.core.errors import RankrlError
from rankrl.eval.backends.base import Sampling
from rankrl.eval.backends.oracle import OracleBackend
from rankrl.eval.cache import CompletionCache
from rankrl.eval.runner import RerankConfig, repeat_order, rerank_benchmark
from rankrl.eval.strategies import StrategyOptions, build_strategy


class Interrupted(Exception):
    pass


class DyingOracle(OracleBackend):
    """The oracle, killed after ``limit`` generated prompts (a crash between two batches)."""

    def __init__(self, *args, limit: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit, self.generated = limit, []

    def generate(self, prompts_, sampling):
        if len(self.generated) + len(prompts_) > self.limit:
            raise Interrupted(f"killed after {len(self.generated)} prompts")
        self.generated.extend(p.prompt_id for p in prompts_)
        return super().generate(prompts_, sampling)


def _fit(paradigm):
    return lambda query, texts: prompts.fit_messages(paradigm, query, texts).messages


@pytest.mark.parametrize("name", ["listwise", "setwise"])
def test_interrupted_evaluation_resumes_without_repeating_generations(dl19, tmp_path, name):
    paradigm = prompts.get_paradigm(name)
    config = RerankConfig(max_queries=6)
    strategy = build_strategy(name)
    reference = rerank_benchmark(dl19, strategy, OracleBackend(dl19.qrels, paradigm, fail_every=4),
                                 paradigm.parse, _fit(paradigm), Sampling(), config, progress=False)
    total = reference.stats.prompts

    cache_path = tmp_path / "completions.cache.jsonl"
    dying = DyingOracle(dl19.qrels, paradigm, fail_every=4, batch_size=5, limit=total // 2)
    with pytest.raises(Interrupted):
        rerank_benchmark(dl19, strategy, dying, paradigm.parse, _fit(paradigm), Sampling(), config,
                         cache=CompletionCache(cache_path), progress=False)
    done = len(dying.generated)
    assert 0 < done < total and len(CompletionCache(cache_path)) == done

    resumed_backend = DyingOracle(dl19.qrels, paradigm, fail_every=4, batch_size=5, limit=10**9)
    resumed = rerank_benchmark(dl19, strategy, resumed_backend, paradigm.parse, _fit(paradigm), Sampling(),
                               config, cache=CompletionCache(cache_path), progress=False)
    assert set(resumed_backend.generated).isdisjoint(dying.generated)  # nothing generated twice
    assert len(resumed_backend.generated) == total - done
    assert resumed.stats.cached == done and resumed.stats.generated == total - done
    assert resumed.run == reference.run
    assert resumed.evaluation.mean == reference.evaluation.mean
    assert [t["prompt_id"] for t in resumed.traces] == [t["prompt_id"] for t in reference.traces]


def test_max_queries_restricts_queries_and_metrics(dl19):
    paradigm = prompts.get_paradigm("groupwise")
    result = rerank_benchmark(dl19, build_strategy("groupwise"), OracleBackend(dl19.qrels, paradigm),
                              paradigm.parse, _fit(paradigm), Sampling(), RerankConfig(max_queries=3),
                              progress=False)
    first3 = list(dl19.queries)[:3]
    assert result.qids == first3 and sorted(result.run) == sorted(first3)
    assert sorted(result.evaluation.per_query) == sorted(first3) and result.evaluation.missing == []
    assert result.rel_level == 2  # TREC DL: binary measures at grade >= 2


def test_deeper_candidates_follow_the_reranked_top_k(dl19):
    paradigm = prompts.get_paradigm("listwise")
    result = rerank_benchmark(dl19, build_strategy("listwise"), OracleBackend(dl19.qrels, paradigm),
                              paradigm.parse, _fit(paradigm), Sampling(), RerankConfig(max_queries=2, top_k=30),
                              progress=False)
    for qid, ranking in result.run.items():
        first = [d for d, _ in dl19.first_stage[qid]]
        docids = [d for d, _ in ranking]
        assert len(docids) == 100 and docids[30:] == first[30:] and sorted(docids[:30]) == sorted(first[:30])
        assert [s for _, s in ranking] == [float(100 - i) for i in range(100)]


def test_repeats_shuffle_candidates_and_merge(dl19):
    paradigm = prompts.get_paradigm("groupwise")
    backend = OracleBackend(dl19.qrels, paradigm)
    config = RerankConfig(max_queries=2, repeats=3)
    result = rerank_benchmark(dl19, build_strategy("groupwise", StrategyOptions(group_size=10)), backend, paradigm.parse,
                              _fit(paradigm), Sampling(), config, progress=False)
    assert result.stats.rounds == 1 and backend.calls == [2 * 3 * 10]  # all repeats in the same round
    assert {t["repeat"] for t in result.traces} == {0, 1, 2}
    qid = result.qids[0]
    first = [d for d, _ in dl19.first_stage[qid]]
    assert repeat_order(first, qid, 0, 0) == first
    assert repeat_order(first, qid, 1, 0) != first and sorted(repeat_order(first, qid, 1, 0)) == sorted(first)
    assert repeat_order(first, qid, 1, 0) == repeat_order(first, qid, 1, 0)  # deterministic
    grades = dl19.qrels[qid]
    # the oracle scores are the grades, identical in every repeat: the mean is the grade
    assert all(result.merged[qid].scores[d] == grades.get(d, 0) for d in first)


def test_fusion_with_first_stage_changes_the_order_and_weight_one_does_not(dl19):
    paradigm = prompts.get_paradigm("pointwise")
    base = {"max_queries": 4}
    runs = {}
    for fusion, weight in (("none", 0.5), ("minmax", 1.0), ("minmax", 0.3), ("zscore", 0.3)):
        runs[(fusion, weight)] = rerank_benchmark(
            dl19, build_strategy("pointwise"), OracleBackend(dl19.qrels, paradigm), paradigm.parse,
            _fit(paradigm), Sampling(), RerankConfig(fusion=fusion, fusion_weight=weight, **base),
            progress=False).run
    assert runs[("minmax", 1.0)] == runs[("none", 0.5)]
    assert runs[("minmax", 0.3)] != runs[("none", 0.5)]
    assert runs[("zscore", 0.3)] != runs[("minmax", 0.3)]


def test_missing_passage_texts_fail_before_generating(dl19):
    broken = dataclasses.replace(dl19, passages={}, provenance={"passages": "missing: no texts"})
    paradigm = prompts.get_paradigm("listwise")
    backend = OracleBackend(dl19.qrels, paradigm)
    with pytest.raises(RankrlError, match="have no text.*missing: no texts"):
        rerank_benchmark(broken, build_strategy("listwise"), backend, paradigm.parse, _fit(paradigm),
                         Sampling(), RerankConfig(max_queries=1), progress=False)
    assert backend.calls == []


@pytest.mark.parametrize("field, value, message", [
    ("top_k", 0, "^top_k must"), ("repeats", 0, "^repeats must"), ("merge", "max", "^merge must"),
    ("fusion", "rrf", "^fusion must"), ("fusion_weight", -0.1, "^fusion_weight must"),
    ("max_queries", 0, "^max_queries must"),
])
def test_config_is_validated_and_errors_name_the_field(field, value, message):
    with pytest.raises(RankrlError, match=message):
        RerankConfig(**{field: value}).validate()
