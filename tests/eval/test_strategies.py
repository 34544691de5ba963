"""Strategies against a perfect oracle on the real DL19 top-100, and their mechanics on synthetic candidates."""

from __future__ import annotations

import itertools
import random

import pytest

from rankrl import prompts
from rankrl.core.errors import ConfigError, RankrlError
from rankrl.core.fields import FieldError
from rankrl.eval.backends.base import Generation, Sampling
from rankrl.eval.backends.oracle import MALFORMED, OracleBackend, ideal_ndcg_order
from rankrl.eval.engine import Engine
from rankrl.eval.metrics import evaluate
from rankrl.eval.runner import RerankConfig, rerank_benchmark
from rankrl.eval.strategies import (
    PromptMaker,
    SetwiseBubblesort,
    SetwiseHeapsort,
    StrategyOptions,
    build_strategy,
    check_fit,
    expected_score,
    windows,
)


def _fit(paradigm):
    return lambda query, texts: prompts.fit_messages(paradigm, query, texts).messages


def _ideal(benchmark, qids, metric="nDCG@10"):
    run = {}
    for q in qids:
        cands = [d for d, _ in benchmark.first_stage[q]]
        order = ideal_ndcg_order(benchmark.qrels[q], cands)
        run[q] = [(d, float(len(order) - i)) for i, d in enumerate(order)]
    qrels = {q: benchmark.qrels[q] for q in qids}
    return evaluate(qrels, run, [metric], rel_level=2).mean[metric]


@pytest.mark.parametrize("name, options, rounds", [
    ("listwise", {}, 9),                      # 100 candidates, window 20, stride 10: 9 windows, one per round
    ("setwise", {}, None),
    ("setwise", {"sort": "bubblesort"}, None),
    ("pointwise", {}, 1),
    ("groupwise", {}, 1),
])
def test_oracle_reaches_the_ideal_ndcg10_of_the_candidates_on_dl19(dl19, name, options, rounds):
    paradigm = prompts.get_paradigm(name)
    backend = OracleBackend(dl19.qrels, paradigm)
    result = rerank_benchmark(dl19, build_strategy(name, StrategyOptions(**options)), backend, paradigm.parse, _fit(paradigm),
                              Sampling(), RerankConfig(), progress=False)
    qids = list(dl19.queries)
    ideal = _ideal(dl19, qids)
    assert len(qids) == 43
    assert result.evaluation.mean["nDCG@10"] == pytest.approx(ideal, abs=1e-12)
    assert ideal == pytest.approx(0.8922, abs=1e-4) and result.first_stage_evaluation.mean["nDCG@10"] == \
        pytest.approx(0.5058, abs=1e-4)
    # one backend call per round: every query's pending prompts travel together
    assert result.stats.backend_calls == result.stats.rounds == len(backend.calls)
    if rounds is not None:
        assert result.stats.rounds == rounds
    assert result.stats.parse_failures == 0
    for qid, ranking in result.run.items():
        docids = [d for d, _ in ranking]
        assert sorted(docids) == sorted(d for d, _ in dl19.first_stage[qid])
        scores = [s for _, s in ranking]
        assert all(a > b for a, b in itertools.pairwise(scores))


def test_setwise_heapsort_batches_a_heap_level_into_one_round(dl19):
    paradigm = prompts.get_paradigm("setwise")
    backend = OracleBackend(dl19.qrels, paradigm)
    result = rerank_benchmark(dl19, SetwiseHeapsort(), backend, paradigm.parse, _fit(paradigm), Sampling(),
                              RerankConfig(max_queries=1), progress=False)
    # 100 candidates, 19 children: nodes 1..5 sift in parallel in round 1 (their children are leaves)
    assert backend.calls[0] == 5
    assert result.stats.rounds == len(backend.calls) < result.stats.prompts


class _Comparator:
    """Backend-free driver: answers each setwise prompt with the best of a hidden score (ties: shown order)."""

    def __init__(self, scores, fail=lambda n: False):
        self.scores, self.fail, self.count = scores, fail, 0

    def drive(self, machine):
        from rankrl.eval.engine import Response
        from rankrl.prompts.base import Parsed

        try:
            prompts_ = next(machine)
            while True:
                responses = []
                for p in prompts_:
                    self.count += 1
                    best = max(range(len(p.docids)), key=lambda i: (self.scores[p.docids[i]], -i))
                    parsed = Parsed(ok=False, error="x") if self.fail(self.count) else Parsed(ok=True, value=best)
                    responses.append(Response(p, Generation("", 0, 0), parsed))
                prompts_ = machine.send(responses)
        except StopIteration as stop:
            return stop.value


def _maker(docids):
    return PromptMaker("q", "query", {d: d for d in docids}, lambda q, t: [{"role": "user", "content": " ".join(t)}],
                       prior={d: i for i, d in enumerate(docids)})


@pytest.mark.parametrize("cls", [SetwiseHeapsort, SetwiseBubblesort])
@pytest.mark.parametrize("n, c, k", [(100, 19, 10), (37, 3, 5), (2, 19, 10), (1, 3, 1), (25, 1, 25), (20, 4, 19)])
def test_setwise_sorts_find_the_exact_top_k(cls, n, c, k):
    for seed in range(3):
        rng = random.Random(seed)
        docids = [f"d{i}" for i in range(n)]
        scores = {d: rng.random() for d in docids}
        ranking = _Comparator(scores).drive(cls(num_child=c, k=k).run(_maker(docids), docids))
        truth = sorted(docids, key=lambda d: -scores[d])
        assert ranking.order[:min(k, n)] == truth[:min(k, n)]
        assert sorted(ranking.order) == sorted(docids)


def test_heapsort_parallel_build_matches_sequential_heapsort():
    """Same ranking and same number of comparisons as the textbook one-node-at-a-time c-ary heapsort."""
    n, c, k = 100, 19, 10
    rng = random.Random(7)
    docids = [f"d{i}" for i in range(n)]
    scores = {d: rng.random() for d in docids}
    comparator = _Comparator(scores)
    ranking = comparator.drive(SetwiseHeapsort(num_child=c, k=k).run(_maker(docids), docids))

    arr, compares = list(docids), 0

    def heapify(size, i):
        nonlocal compares
        while True:
            group = [i, *range(c * i + 1, min(c * i + c + 1, size))]
            if len(group) == 1:
                return
            compares += 1
            best = max(group, key=lambda j: (scores[arr[j]], -group.index(j)))
            if best == i:
                return
            arr[i], arr[best] = arr[best], arr[i]
            i = best

    for i in range(n // c, -1, -1):
        heapify(n, i)
    top = []
    for end in range(n - 1, 0, -1):
        arr[0], arr[end] = arr[end], arr[0]
        top.append(arr[end])
        if len(top) == k:
            break
        heapify(end, 0)
    assert ranking.order[:k] == top and comparator.count == compares


@pytest.mark.parametrize("cls", [SetwiseHeapsort, SetwiseBubblesort])
def test_setwise_with_every_parse_failing_keeps_the_first_stage_order(cls):
    docids = [f"d{i}" for i in range(50)]
    scores = {d: random.Random(1).random() for d in docids}
    ranking = _Comparator(scores, fail=lambda n: True).drive(cls(num_child=4, k=10).run(_maker(docids), docids))
    assert ranking.order == docids


def test_windows_cover_the_list_back_to_front():
    assert windows(100, 20, 10) == [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40),
                                    (10, 30), (0, 20)]
    assert windows(95, 20, 10)[-2:] == [(5, 25), (0, 15)]  # the top is always reranked
    assert windows(5, 20, 10) == [(0, 5)]
    assert windows(0, 20, 10) == []


def test_listwise_failed_parse_keeps_the_window_order_and_is_counted(dl19):
    paradigm = prompts.get_paradigm("listwise")
    backend = OracleBackend(dl19.qrels, paradigm, fail_every=3)
    result = rerank_benchmark(dl19, build_strategy("listwise"), backend, paradigm.parse, _fit(paradigm),
                              Sampling(), RerankConfig(max_queries=5), progress=False)
    failures = sum(1 for t in result.traces if t["completion"] == MALFORMED)
    assert failures > 0 and result.stats.parse_failures == failures
    assert all(not t["ok"] for t in result.traces if t["completion"] == MALFORMED)
    always_fail = OracleBackend(dl19.qrels, paradigm, fail_every=1)
    unchanged = rerank_benchmark(dl19, build_strategy("listwise"), always_fail, paradigm.parse, _fit(paradigm),
                                 Sampling(), RerankConfig(max_queries=2), progress=False)
    for qid, ranking in unchanged.run.items():
        assert [d for d, _ in ranking] == [d for d, _ in dl19.first_stage[qid]]
    assert unchanged.stats.parse_failures == unchanged.stats.prompts == 18


def test_pointwise_and_groupwise_failures_get_the_query_mean(dl19):
    for name in ("pointwise", "groupwise"):
        paradigm = prompts.get_paradigm(name)
        backend = OracleBackend(dl19.qrels, paradigm, fail_every=1)
        result = rerank_benchmark(dl19, build_strategy(name), backend, paradigm.parse, _fit(paradigm),
                                  Sampling(), RerankConfig(max_queries=2), progress=False)
        for qid, merged in result.merged.items():
            assert set(merged.scores.values()) == {0.0}  # nothing parsed: every passage ties
            assert merged.order == [d for d, _ in dl19.first_stage[qid]]


def test_expected_score_from_logprobs():
    import math

    lp = [(" ", {" ": 0.0}), ("7", {"7": math.log(0.5), "6": math.log(0.3), "x": math.log(0.2)})]
    assert expected_score(lp) == pytest.approx((7 * 0.5 + 6 * 0.3) / 0.8)
    # digit-splitting tokenizers: "10" = "1" + "0"; p("0" | "1") splits the mass of "1"
    ten = [("1", {"1": math.log(0.6), "9": math.log(0.4)}), ("0", {"0": math.log(0.75), "<": math.log(0.25)})]
    assert expected_score(ten) == pytest.approx(0.6 * 0.75 * 10 + 0.6 * 0.25 * 1 + 0.4 * 9)
    assert expected_score([("true", {"true": math.log(0.8), "false": math.log(0.2)})], 0, 1) == pytest.approx(0.8)
    assert expected_score([("maybe", {"maybe": 0.0})]) is None
    assert expected_score(None) is None and expected_score([]) is None


def test_pointwise_uses_expected_scores_when_the_backend_gives_logprobs():
    import math

    paradigm = prompts.get_paradigm("pointwise")

    class Graded:
        model_id, batch_size, tokenizer = "graded", 100, None

        def generate(self, prompts_, sampling):
            assert sampling.logprobs == 5
            out = []
            for p in prompts_:
                hi = {"a": 0.9, "b": 0.6, "c": 0.6}[p.docids[0]]
                out.append(Generation(paradigm.render_answer(7.0), 1, 1, answer_logprobs=[
                    ("7", {"7": math.log(hi), "2": math.log(1 - hi)})]))
            return out

    strategy = build_strategy("pointwise")
    engine = Engine(Graded(), paradigm.parse, Sampling(logprobs=5), progress=False)
    maker = PromptMaker("q", "query", {"a": "A", "b": "B", "c": "C"}, _fit(paradigm))
    results, _ = engine.run({("q", 0): strategy.run(maker, ["c", "b", "a"])})
    ranking = results[("q", 0)]
    assert ranking.order == ["a", "c", "b"]  # a has the highest expectation; b and c tie: shown order
    assert ranking.scores["a"] == pytest.approx(0.9 * 7 + 0.1 * 2)
    no_lp = Engine(Graded(), paradigm.parse, Sampling(logprobs=5), progress=False)
    plain = build_strategy("pointwise", StrategyOptions(expected_score=False))
    maker = PromptMaker("q", "query", {"a": "A", "b": "B", "c": "C"}, _fit(paradigm))
    results, _ = no_lp.run({("q", 0): plain.run(maker, ["c", "b", "a"])})
    assert results[("q", 0)].scores == {"a": 7.0, "b": 7.0, "c": 7.0}


def test_strategy_must_fit_the_paradigm():
    check_fit("listwise", "listwise")
    with pytest.raises(ConfigError, match="does not fit the 'pointwise' paradigm"):
        check_fit("listwise", "pointwise")
    with pytest.raises(RankrlError, match="unknown strategy"):
        check_fit("tournament", "listwise")


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "listwise", "window": 10, "stride": 10}, "^stride must be"),
    ({"name": "listwise", "window": 1}, "^window must be >= 2"),
    ({"name": "setwise", "num_child": 0}, "^num_child must be"),
    ({"name": "setwise", "k": 0}, "^k must be"),
    ({"name": "groupwise", "group_size": 0}, "^group_size must be"),
    ({"name": "setwise", "sort": "quick"}, "setwise sort"),
])
def test_strategy_settings_are_validated_and_errors_name_the_field(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(FieldError, match=message):
        build_strategy(name, StrategyOptions(**kwargs))


def test_unknown_strategy_option_is_an_error_naming_it():
    with pytest.raises(RankrlError, match="unknown strategy option.*windw.*valid options: sort"):
        StrategyOptions.from_mapping({"windw": 5})
    assert StrategyOptions.from_mapping({"window": 5}).window == 5
    with pytest.raises(RankrlError, match="must be StrategyOptions"):
        build_strategy("listwise", {"window": 5})  # type: ignore[arg-type]
