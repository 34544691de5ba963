"""Progress totals: each strategy's plan equals (or, for setwise heapsort, bounds) the rounds and prompts an
oracle run really takes; the engine's bars get those totals."""

from __future__ import annotations

import pytest

from rankrl import prompts
from rankrl.eval.backends.base import Sampling
from rankrl.eval.backends.oracle import OracleBackend
from rankrl.eval.progress import Plan, combine
from rankrl.eval.runner import RerankConfig, rerank_benchmark
from rankrl.eval.strategies import StrategyOptions, build_strategy


def _run(dl19, name, options, top_k=100, max_queries=3):
    paradigm = prompts.get_paradigm("setwise" if name == "setwise" else name)
    strategy = build_strategy(name, StrategyOptions(**options))
    backend = OracleBackend(dl19.qrels, paradigm)
    fit = lambda q, t: prompts.fit_messages(paradigm, q, t).messages
    result = rerank_benchmark(dl19, strategy, backend, paradigm.parse, fit, Sampling(),
                              RerankConfig(max_queries=max_queries, top_k=top_k), progress=False)
    plan = combine(strategy.plan(min(top_k, len(dl19.first_stage[q]))) for q in result.qids)
    return plan, result.stats


@pytest.mark.parametrize("name, options, top_k", [
    ("listwise", {}, 100), ("listwise", {"window": 7, "stride": 3, "passes": 2}, 30),
    ("pointwise", {}, 50), ("groupwise", {"group_size": 7}, 30),
    ("setwise", {"sort": "bubblesort", "num_child": 3, "k": 4}, 20),
])
def test_exact_plans_equal_what_the_run_takes(dl19, name, options, top_k):
    plan, stats = _run(dl19, name, options, top_k)
    assert plan.exact
    assert (plan.rounds, plan.prompts) == (stats.rounds, stats.prompts)


@pytest.mark.parametrize("options, top_k", [({}, 100), ({"num_child": 3, "k": 5}, 40), ({"num_child": 2}, 9)])
def test_heapsort_plan_is_an_upper_bound(dl19, options, top_k):
    plan, stats = _run(dl19, "setwise", options, top_k)
    assert not plan.exact
    assert stats.rounds <= plan.rounds and stats.prompts <= plan.prompts
    assert plan.prompts <= 3 * stats.prompts  # an estimate, not a wild one


def test_combine_and_bar_totals(dl19, capsys):
    assert combine([]) is None
    assert combine([Plan(3, 3), Plan(5, 5, exact=False)]) == Plan(5, 8, exact=False)
    paradigm = prompts.get_paradigm("listwise")
    fit = lambda q, t: prompts.fit_messages(paradigm, q, t).messages
    rerank_benchmark(dl19, build_strategy("listwise"), OracleBackend(dl19.qrels, paradigm), paradigm.parse, fit,
                     Sampling(), RerankConfig(max_queries=2), progress=True)
    err = capsys.readouterr().err
    assert "9/9" in err and "18/18" in err  # 9 rounds, 2 queries x 9 windows; tqdm then shows an ETA


def test_no_progress_silences_transformers_bars(monkeypatch):
    from transformers.utils import logging as hf_logging

    from rankrl.eval.progress import silence_library_bars

    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    hf_logging.enable_progress_bar()
    try:
        silence_library_bars()
        assert not hf_logging.is_progress_bar_enabled()
        import os

        assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    finally:
        hf_logging.enable_progress_bar()
