"""Reproduction recipes: the published settings they carry, a dry run each, and 2 GRPO/SFT steps at smoke size on
the tiny model with the recipe's own preset prompt, which must end up in the checkpoint's rankrl.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

RECIPES = Path(__file__).resolve().parents[2] / "rl" / "recipes"

# recipe -> (paradigm, template, reward names)
GRPO = {
    "rank-r1-setwise-qwen2.5-3b": ("setwise", "rank-r1", ["rank_r1_choice"]),
    "rank-r1-setwise-qwen2.5-7b": ("setwise", "rank-r1", ["rank_r1_choice"]),
    "rank-r1-setwise-qwen2.5-14b": ("setwise", "rank-r1", ["rank_r1_choice"]),
    "reasonrank-qwen2.5-7b": ("listwise", "reasonrank", ["reasonrank_multiview"]),
    "rearank-qwen2.5-7b": ("listwise", "rearank", ["rearank_delta_ndcg", "format"]),
    "erank-qwen3-4b": ("pointwise", "erank", ["pointwise_listwise", "format"]),
    "iranker-elimination-qwen2.5-3b": ("elimination", "elimination", ["iranker_elimination"]),
    "prorank-stage2-smollm2-135m": ("pointwise", "pointwise-binary", ["pointwise_listwise", "format"]),
}
SFT = {
    "reasonrank-sft-qwen2.5-7b": ("listwise", "reasonrank"),
    "rank-r1-sft-qwen2.5-7b": ("setwise", "setwise-rank-r1-sft"),
}

# Smoke size on CPU: tiny model, synthetic rows, short completions, no vLLM, no bf16 (later flags win).
SMOKE = ["--data_source", "synthetic", "--synthetic_queries", "4", "--group_size", "3", "--top_n", "3",
         "--num_generations", "4", "--per_device_train_batch_size", "8", "--gradient_accumulation_steps", "1",
         "--max_completion_length", "24", "--max_prompt_tokens", "1024", "--use_vllm", "false", "--use_cpu", "true",
         "--bf16", "false", "--dtype", "float32", "--gradient_checkpointing", "false", "--report_to", "none",
         "--logging_steps", "1", "--disable_tqdm", "true", "--save_steps", "2"]


def recipe(name: str) -> dict:
    return yaml.safe_load((RECIPES / f"{name}.yaml").read_text())


# ---------------------------------------------------------------------------------------------- published values


def test_rank_r1_recipes_carry_the_final_train_grpo_settings():
    for size in ("3b", "7b", "14b"):
        r = recipe(f"rank-r1-setwise-qwen2.5-{size}")
        assert r["model_name_or_path"] == f"Qwen/Qwen2.5-{size.upper()}-Instruct"
        assert (r["per_device_train_batch_size"], r["num_generations"]) == (16, 8)  # fb7fe9d (192b6df: 8)
        assert (r["learning_rate"], r["max_completion_length"], r["max_prompt_tokens"]) == (1e-5, 2048, 4096)
        assert (r["lora_r"], r["lora_alpha"], r["lora_dropout"]) == (16, 32, 0.05)
        assert (r["beta"], r["loss_type"], r["temperature"], r["lr_scheduler_type"]) == (0.04, "grpo", 0.9, "linear")
        assert r["use_vllm"] is False  # transformers generation, as published
        assert r["rewards"] == [{"name": "rank_r1_choice", "weight": 1.0}] and r["template"] == "rank-r1"
        text = (RECIPES / f"rank-r1-setwise-qwen2.5-{size}.yaml").read_text()
        assert "fb7fe9d4daefcaaddbec039ee1878e5e4ef1acac" in text


def test_reasonrank_pair_carries_train_grpo_sh_and_the_sft_yaml():
    grpo, sft = recipe("reasonrank-qwen2.5-7b"), recipe("reasonrank-sft-qwen2.5-7b")
    assert grpo["model_name_or_path"] == sft["output_dir"]  # GRPO starts from the SFT checkpoint
    assert grpo["use_peft"] is False and sft["use_peft"] is False
    assert (grpo["learning_rate"], grpo["beta"], grpo["num_generations"]) == (1e-6, 0.001, 8)
    # 64 completions per optimizer step on 8 GPUs, two steps per generation batch: 16 prompts x 8
    assert grpo["per_device_train_batch_size"] * 8 * grpo["steps_per_generation"] == 16 * 8
    assert (grpo["max_prompt_tokens"], grpo["max_completion_length"]) == (20480, 3072)
    assert (sft["learning_rate"], sft["num_train_epochs"], sft["max_length"]) == (5e-6, 5, 23552)
    assert (sft["per_device_train_batch_size"], sft["gradient_accumulation_steps"]) == (1, 8)
    assert grpo["template"] == sft["template"] == "reasonrank"


def test_every_recipe_header_cites_its_source():
    for name in [*GRPO, *SFT]:
        head = (RECIPES / f"{name}.yaml").read_text().split("\n\n")[0]
        assert "Source:" in head or "source" in head.lower(), name


# ---------------------------------------------------------------------------------------------- dry run + 2 steps


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A tiny model without warm-up: 2 smoke steps need generation, not good answers."""
    import torch

    torch.set_num_threads(1)
    from rankrl.rl.tiny_model import build_tiny_model

    folder = tmp_path_factory.mktemp("tiny-repro") / "model"
    build_tiny_model(folder, seed=0, warmup_steps=0, log=lambda *_: None)
    return folder


_REAL_DATA_KEYS = ("data_source:", "rankgpt_qrels:", "benchmark_dir:", "dataset_dir:")


def smoke_copy(name: str, folder: Path) -> Path:
    """The recipe with its real-data lines removed (the smoke run passes --data_source synthetic), all else kept."""
    lines = (RECIPES / f"{name}.yaml").read_text().splitlines()
    kept = [line for line in lines if not line.startswith(_REAL_DATA_KEYS)]
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(kept) + "\n")
    return path


def _train(name: str, model: Path, out: Path, *extra: str) -> int:
    import importlib

    train = importlib.import_module("rankrl.rl.train")  # the module (rankrl.rl.train is the API function)

    config = smoke_copy(name, out.parent)
    return train.main(["--config", str(config), "--model_name_or_path", str(model), "--output_dir", str(out),
                       *SMOKE, *extra])


def _check_metadata(out: Path, paradigm: str, template: str, rewards: list[str] | None) -> None:
    meta = json.loads((out / "rankrl.json").read_text())
    assert meta["paradigm"] == paradigm
    assert meta["template"]["name"] == template
    if rewards is not None:
        assert [r["name"] for r in meta["rewards"]] == rewards


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GRPO))
def test_grpo_recipe_dry_run_then_two_steps_record_its_preset(name, tiny, tmp_path, capsys, request):
    paradigm, template, rewards = GRPO[name]
    out = tmp_path / "out"
    # pointwise: a batch of 2 prompts must hold whole groups for the listwise-derived reward (groups of 2)
    extra = ("--group_size", "2", "--top_n", "2") if paradigm == "pointwise" else ()
    assert _train(name, tiny, out, *extra, "--dry_run", "true") == 0
    captured = capsys.readouterr()
    assert f"paradigm: {paradigm} (template {template} " in captured.out + captured.err
    assert not out.exists()
    assert _train(name, tiny, out, *extra, "--max_steps", "2") == 0
    _check_metadata(out, paradigm, template, rewards)
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    logged = {k for rec in state["log_history"] for k in rec}
    assert any(k.startswith(f"rewards/{rewards[0]}") for k in logged)
    if name in EVAL_WITH_NO_FLAGS:
        shared = request.getfixturevalue("shared_data")  # only these cases need DL19 (skip without it)
        _eval_uses_the_training_prompt(out, template, EVAL_WITH_NO_FLAGS[name], shared, tmp_path / "eval")


# `rankrl eval CHECKPOINT` with no paradigm/template/strategy flags: the checkpoint's preset and its strategy
EVAL_WITH_NO_FLAGS = {"rank-r1-setwise-qwen2.5-7b": "setwise", "iranker-elimination-qwen2.5-3b": "elimination"}


def _eval_uses_the_training_prompt(checkpoint: Path, template: str, strategy: str, shared: Path, out: Path) -> None:
    from rankrl.core.cli import main

    code = main(["eval", "--model", str(checkpoint), "--benchmark", "trec-dl-2019", "--data-dir", str(shared),
                 "--out", str(out), "--max-queries", "1", "--top-k", "20", "--backend", "hf",
                 "--max-new-tokens", "8", "--no-progress"])
    assert code == 0
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert settings["template"].startswith(f"{template} v") and settings["strategy"] == strategy


def _traces(path: Path, paradigm: str, n: int = 8) -> Path:
    from rankrl.prompts import get_paradigm

    p = get_paradigm(paradigm)
    lines = []
    for i in range(n):
        passages = [f"passage {j} about topic {i}" for j in range(3)]
        value = i % 3 if paradigm == "setwise" else [i % 3, (i + 1) % 3, (i + 2) % 3]
        completion = f"<answer>[{value + 1}]</answer>" if paradigm == "setwise" else p.render_answer(value, "r")
        lines.append(json.dumps({"query": f"query {i}", "passages": passages, "completion": completion}))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SFT))
def test_sft_recipe_dry_run_then_two_steps_record_its_preset(name, tiny, tmp_path):
    import importlib

    sft = importlib.import_module("rankrl.rl.sft")  # the module (rankrl.rl.sft is the API function)

    paradigm, template = SFT[name]
    traces = _traces(tmp_path / "traces.jsonl", paradigm)
    out = tmp_path / "out"
    flags = ["--config", str(RECIPES / f"{name}.yaml"), "--model_name_or_path", str(tiny), "--traces", str(traces),
             "--output_dir", str(out), "--max_length", "1024", "--max_prompt_tokens", "768",
             "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "1", "--use_cpu", "true",
             "--bf16", "false", "--dtype", "float32", "--gradient_checkpointing", "false", "--report_to", "none",
             "--save_strategy", "steps", "--save_steps", "2", "--disable_tqdm", "true"]
    assert sft.main([*flags, "--dry_run", "true"]) == 0
    assert not out.exists()
    assert sft.main([*flags, "--max_steps", "2"]) == 0
    _check_metadata(out, paradigm, template, None)


@pytest.mark.slow
def test_prorank_stage2_chains_after_stage1(tiny, tmp_path):
    stage1 = tmp_path / "stage1"
    assert _train("prorank-smollm2-135m", tiny, stage1, "--max_steps", "2", "--merge_lora", "true",
                  "--synthetic_task", "marker", "--group_size", "2", "--top_n", "2") == 0
    merged = stage1 / "merged"
    assert (merged / "config.json").is_file()
    stage2 = tmp_path / "stage2"
    assert _train("prorank-stage2-smollm2-135m", merged, stage2, "--max_steps", "2",
                  "--synthetic_task", "marker", "--group_size", "4", "--top_n", "4",
                  "--per_device_train_batch_size", "16") == 0
    _check_metadata(stage2, "pointwise", "pointwise-binary", ["pointwise_listwise", "format"])
    assert json.loads((stage1 / "rankrl.json").read_text())["template"]["name"] == "pointwise-binary"
