"""report.md, metrics.json layouts and the bar chart, from oracle runs on DL19."""

from __future__ import annotations

import json

import pytest

from rankrl import prompts
from rankrl.eval.backends.base import Sampling
from rankrl.eval.backends.oracle import OracleBackend
from rankrl.eval.report import bar_chart, benchmark_metrics, combined_metrics, render_report, write_json
from rankrl.eval.runner import RerankConfig, rerank_benchmark
from rankrl.eval.strategies import build_strategy


@pytest.fixture(scope="module")
def result(dl19):
    paradigm = prompts.get_paradigm("pointwise")
    backend = OracleBackend(dl19.qrels, paradigm, fail_every=5)
    fit = lambda q, t: prompts.fit_messages(paradigm, q, t).messages
    return rerank_benchmark(dl19, build_strategy("pointwise"), backend, paradigm.parse, fit, Sampling(),
                            RerankConfig(max_queries=3, fusion="zscore", fusion_weight=0.8), progress=False)


SETTINGS = {"model": "m", "paradigm": "pointwise", "template": "pointwise v1", "strategy": "pointwise",
            "strategy_settings": {"strategy": "pointwise", "expected_score": True}, "backend": "hf",
            "sampling": {"temperature": 0.0, "max_new_tokens": 64}, "top_k": 100, "repeats": 1,
            "merge": "mean-score",
            "fusion": {"method": "zscore", "weight": 0.8, "reranker_score": "mean model score"}}


def test_report_has_metrics_cost_failures_and_fusion(result):
    text = render_report([result], SETTINGS, wall_seconds=12.5)
    assert "fusion: zscore normalisation, 0.8 × reranker + 0.2 × first stage" in text
    row = next(line for line in text.splitlines() if line.startswith("| trec-dl-2019 | 3 |"))
    assert f"{result.evaluation.mean['nDCG@10']:.4f}" in row
    assert f"{result.first_stage_evaluation.mean['nDCG@10']:.4f}" in row
    cost = next(line for line in text.splitlines() if line.startswith("| trec-dl-2019 | 300 |"))
    failures = result.stats.parse_failures
    assert failures > 0 and f"{failures} ({100 * failures / 300:.1f}%)" in cost
    assert "| 100.0 |" in cost  # LLM calls per query
    assert f"{result.stats.prompt_tokens / 3:.0f}" in cost
    assert "wall time: 12.5 s" in text and '"fusion"' in text


def test_metrics_json_layouts(result, tmp_path):
    single = benchmark_metrics(result, SETTINGS)
    assert single["nDCG@10"] == result.evaluation.mean["nDCG@10"] and single["num_queries"] == 3
    assert set(single["per_query"]) == set(result.qids) and single["settings"]["fusion"]["method"] == "zscore"
    write_json(tmp_path / "m.json", single)
    assert json.loads((tmp_path / "m.json").read_text())["cost"]["prompts"] == 300
    combined = combined_metrics([result, result], SETTINGS)
    assert combined["nDCG@10"] == pytest.approx(result.evaluation.mean["nDCG@10"])
    assert combined["average"]["AP"] == pytest.approx(result.evaluation.mean["AP"])


def test_bar_chart_is_a_png(result, tmp_path):
    path = bar_chart([result, result], tmp_path / "chart.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_paired_difference_against_the_first_stage(result, tmp_path):
    from rankrl.eval.compare import paired_difference
    from rankrl.eval.report import vs_first_stage

    d = vs_first_stage(result)["nDCG@10"]
    first, reranked = result.first_stage_evaluation.per_query, result.evaluation.per_query
    expected = paired_difference("nDCG@10", {q: v["nDCG@10"] for q, v in first.items()},
                                 {q: v["nDCG@10"] for q, v in reranked.items()})
    assert d == expected and d.n == 3
    assert d.mean == pytest.approx(result.evaluation.mean["nDCG@10"] - result.first_stage_evaluation.mean["nDCG@10"])
    text = render_report([result], SETTINGS, wall_seconds=1.0)
    assert "## Against the first stage" in text and f"{d.mean:+.4f} ± {d.stderr:.4f}" in text
    single = benchmark_metrics(result, SETTINGS)
    assert single["vs_first_stage"]["nDCG@10"]["wins"] == d.wins


def test_report_states_the_real_candidate_depth(result):
    assert "candidates: first-stage top 100;" in render_report([result], SETTINGS, wall_seconds=1.0)
    text = render_report([result], dict(SETTINGS, top_k=500), wall_seconds=1.0)
    assert "candidates: first-stage top 100 (top_k 500; the first stage has only 100 per query)" in text
