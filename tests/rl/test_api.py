"""The library API end to end: train 2 GRPO steps on the tiny model and evaluate 3 TREC DL 2019 queries with the
checkpoint, through ``rankrl.rl.train`` and ``rankrl.eval.evaluate`` alone (no command line, no argv), asserting
on the returned objects."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rankrl.core.errors import ConfigError
from rankrl.eval import EvalConfig, EvalResult, evaluate
from rankrl.rl import TrainConfig, TrainResult, train

REPO_ROOT = Path(__file__).resolve().parents[2]
DL = REPO_ROOT.parent / "shared" / "data"


def _train_config(model: Path, out: Path, **extra) -> TrainConfig:
    return TrainConfig.from_recipe(REPO_ROOT / "rl" / "recipes" / "tiny.yaml", {
        "model_name_or_path": str(model), "output_dir": str(out), "max_steps": 2, "save_steps": 2,
        "synthetic_queries": 8, "num_generations": 4, "per_device_train_batch_size": 8,
        "max_completion_length": 48, "logging_steps": 1, "disable_tqdm": True,
        "paradigm": "listwise", "template": "listwise", "group_size": 4, "rewards": ["default"],
        "synthetic_task": "match", **extra})


@pytest.mark.slow
def test_train_two_steps_then_evaluate_three_dl19_queries_through_the_api(warm_tiny_model, tmp_path):
    if not (DL / "trec-dl").is_dir():
        pytest.skip("../shared/data/trec-dl is not here")
    out = tmp_path / "ckpt"
    trained = train(_train_config(warm_tiny_model, out))
    assert isinstance(trained, TrainResult)
    assert trained.output_dir == out and trained.step == 2 and trained.paradigm == "listwise"
    assert trained.rows == 8 and not trained.dry_run
    assert [r["name"] for r in trained.rewards] == ["listwise_ndcg", "format"]  # the paradigm's defaults
    assert trained.metadata["paradigm"] == "listwise" and trained.metadata["step"] == 2
    assert [h["step"] for h in trained.log_history if "loss" in h] == [1, 2]
    assert (out / "rankrl.json").is_file()

    result = evaluate(EvalConfig(model=str(out), benchmark="trec-dl-2019", data_dir=str(DL), max_queries=3,
                                 top_k=6, window=4, stride=2, max_new_tokens=16, max_passage_chars=60,
                                 batch_size=16, device="cpu", no_progress=True))
    assert isinstance(result, EvalResult) and result.out is None  # no output folder: nothing written
    assert result.paradigm.name == "listwise" and result.settings["paradigm_source"].endswith("rankrl.json")
    assert len(result.run) == 3 and all(len(ranking) == 100 for ranking in result.run.values())
    assert set(result.per_query) == set(result.run)
    assert 0.0 <= result.ndcg10 <= 1.0 and math.isclose(
        result.ndcg10, sum(m["nDCG@10"] for m in result.per_query.values()) / 3)
    # listwise, 6 candidates, window 4, stride 2: windows [2, 6) and [0, 4): 2 prompts per query
    assert result.llm_calls == 6 and len(result.traces) == 6
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    assert 0 <= result.unparsed <= 6
    assert result.cost()["trec-dl-2019"]["llm_calls_per_query"] == 2.0
    assert not (tmp_path / "eval").exists()


def test_train_dry_run_returns_the_plan_without_a_model_run(warm_tiny_model, tmp_path):
    """A dry run checks everything and builds the rows, then returns (nothing written)."""
    result = train(_train_config(warm_tiny_model, tmp_path / "out", dry_run=True))
    assert result.dry_run and result.step is None and result.rows == 8
    assert result.rewards == [{"name": "listwise_ndcg", "weight": 1.0, "k": 10}, {"name": "format", "weight": 0.1}]
    assert not (tmp_path / "out").exists()


def test_overrides_are_checked_by_name(tmp_path):
    with pytest.raises(ConfigError, match="unknown field.s. in override: .group_sise. .did you mean .group_size"):
        TrainConfig.from_recipe(REPO_ROOT / "rl" / "recipes" / "tiny.yaml", {"group_sise": 4})
    with pytest.raises(ConfigError, match="needs a TrainConfig"):
        train({"max_steps": 2})  # type: ignore[arg-type]


def test_evaluate_errors_name_fields_not_flags(tmp_path):
    from rankrl.core.fields import FieldError

    with pytest.raises(FieldError, match="^window must be a positive integer"):
        evaluate(EvalConfig(model="m", benchmark="trec-dl-2019", window=0))
    with pytest.raises(FieldError, match=r"^model folder not found: \./nowhere \(model\)"):
        evaluate(EvalConfig(model="./nowhere", benchmark="trec-dl-2019"))
