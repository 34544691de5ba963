"""``rankrl train`` end to end on CPU with the tiny model: every paradigm, checkpoints, resume, LoRA, errors."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import torch

from rankrl import prompts
from rankrl.core.cli import main as cli_main
from rankrl.core.metadata import read_metadata

train = importlib.import_module("rankrl.rl.train")  # the module (rankrl.rl.train is the API function)
from transformers import TrainerCallback

from rankrl.prompts import get_paradigm

MODEL_FILES = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "README.md",
               "rankrl.json")


# ----------------------------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    ("recipe_text", "expected"),
    [
        ("paradigm: setwise\nlearning_rat: 0.1\n", "recipe.yaml:2: 'learning_rat' (did you mean 'learning_rate'?)"),
        ("paradigm: setwise\nrewards: [format\n", "malformed YAML"),
        ("num_generations: 3\nper_device_train_batch_size: 8\n", "must be divisible by num_generations (3)"),
        ("data_source: synthetic\nparadigm: sideways\n", "unknown paradigm 'sideways'"),
    ],
)
def test_config_errors_exit_2_and_write_nothing(tmp_path, capsys, recipe_text, expected):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(recipe_text + "use_cpu: true\nbf16: false\nmodel_name_or_path: nowhere\n")
    out = tmp_path / "out"
    assert cli_main(["train", "--config", str(recipe), "--output_dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rankrl train: error:") and expected in err and "Traceback" not in err
    assert not out.exists()


def test_missing_model_folder_is_a_clean_error(tmp_path, tiny_args, capsys):
    out = tmp_path / "out"
    assert cli_main(["train", *tiny_args(tmp_path / "no-model", out)]) == 2
    assert f"model folder not found: {tmp_path / 'no-model'}" in capsys.readouterr().err
    assert not out.exists()
    model = tmp_path / "empty-model"
    model.mkdir()  # a folder, but no model in it: the loader's own error
    assert cli_main(["train", *tiny_args(model, out)]) == 2
    assert "cannot load the tokenizer" in capsys.readouterr().err
    assert not out.exists()


def test_an_org_name_model_that_is_not_local_is_named_as_a_hub_id(tmp_path, tiny_args, capsys, monkeypatch):
    """``runs/ckpt`` is also a valid Hub id; when the Hub cannot serve it, the error says it was not found locally.
    (The Hub is replaced by its offline error, so the test needs no network and waits for no retries.)"""
    import transformers

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", offline)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    assert cli_main(["train", *tiny_args("runs/ckpt", out)]) == 2
    err = capsys.readouterr().err
    # core/hub_check.py answers before the tokenizer is asked: not a local folder, and the Hub cannot serve it
    assert f"'runs/ckpt' is not a folder under {tmp_path}" in err and "Hub" in err
    assert "Traceback" not in err and not out.exists()


def test_output_dir_that_is_a_file_is_refused_before_loading(tmp_path, tiny_args, capsys):
    out = tmp_path / "out"
    out.write_text("a file")
    assert cli_main(["train", *tiny_args(tmp_path / "no-model", out)]) == 2
    err = capsys.readouterr().err
    assert f"output_dir {out} exists and is not a folder" in err and "model folder not found" in err
    assert out.read_text() == "a file"


def test_prompt_budget_beyond_model_positions_is_refused_before_loading(warm_tiny_model, tmp_path, tiny_args):
    from rankrl.core.errors import ConfigError

    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="exceeds the model's max_position_embeddings"):
        train.main(tiny_args(warm_tiny_model, out, "--max_prompt_tokens", "9000"))
    assert not out.exists()


def test_use_vllm_without_vllm_is_refused_before_loading(warm_tiny_model, tmp_path, tiny_args):
    import importlib.util

    from rankrl.core.errors import ConfigError

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here; this checks the message users without it get")
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"vLLM is not installed: pip install -e '\.\[vllm\]'"):
        train.main(tiny_args(warm_tiny_model, out, "--use_vllm", "true", "--vllm_max_model_length", "512"))
    assert not out.exists()


def test_recipe_env_block_is_applied_after_validation(warm_tiny_model, tmp_path, monkeypatch):
    import os

    monkeypatch.delenv("RANKRL_TEST_ENV", raising=False)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(train_recipe().read_text() + "env:\n  RANKRL_TEST_ENV: \"set\"\n")
    flags = ["--config", str(recipe), "--model_name_or_path", str(warm_tiny_model),
             "--output_dir", str(tmp_path / "out"), "--synthetic_queries", "4", "--dry_run", "true"]
    with pytest.raises(Exception, match="unknown paradigm"):
        train.main([*flags, "--paradigm", "nope"])
    assert "RANKRL_TEST_ENV" not in os.environ
    assert train.main(flags) == 0
    assert os.environ["RANKRL_TEST_ENV"] == "set"


# ----------------------------------------------------------------------------------------------- dry runs


def test_dry_run_on_real_dl19_reports_truncation_and_writes_nothing(warm_tiny_model, shared_data, tmp_path,
                                                                     tiny_args, capsys):
    from transformers import AutoTokenizer

    from rankrl.data.benchmarks import load_benchmark
    from rankrl.data.rows import RowsConfig, rows_from_benchmark

    out = tmp_path / "out"
    flags = ["--data_source", "benchmark:trec-dl-2019", "--benchmark_dir", str(shared_data), "--group_size", "5",
             "--max_prompt_tokens", "1200", "--paradigm", "listwise", "--rewards", "default", "--dry_run", "true"]
    assert train.main(tiny_args(warm_tiny_model, out, *flags)) == 0
    assert not out.exists()
    expected = rows_from_benchmark(load_benchmark("trec-dl-2019", data_dir=shared_data), RowsConfig("listwise", group_size=5, top_n=100, max_prompt_tokens=1200), tokenizer=AutoTokenizer.from_pretrained(warm_tiny_model)).stats
    assert 0 < expected["truncated_rows"] < expected["rows"]
    err = capsys.readouterr().err
    assert f"rows: {expected['rows']} from benchmark:trec-dl-2019" in err
    assert (f"prompts truncated to fit max_prompt_tokens=1200: {expected['truncated_rows']} of {expected['rows']}"
            in err)


def test_dataset_dir_from_data_build(warm_tiny_model, tmp_path, tiny_args, capsys):
    from rankrl.core.errors import ConfigError
    from rankrl.data.rows import RowsConfig, rows_from_benchmark, rows_to_dataset, save_rows
    from rankrl.data.synthetic import synthetic_benchmark

    result = rows_from_benchmark(synthetic_benchmark(6, 4, 0), RowsConfig("setwise", group_size=4))
    built = save_rows(rows_to_dataset(result.rows), tmp_path / "rows", {"stats": result.stats})
    out = tmp_path / "out"
    flags = ["--config", str(train_recipe()), "--model_name_or_path", str(warm_tiny_model),
             "--output_dir", str(out), "--data_source", "", "--dataset_dir", str(built), "--dry_run", "true",
             "--paradigm", "setwise", "--template", "setwise", "--rewards", "default"]
    assert train.main(flags) == 0
    assert f"rows: 6 from {built}" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(ConfigError, match="holds setwise rows but paradigm is 'listwise'"):
        train.main(flags + ["--paradigm", "listwise", "--template", "listwise"])


def train_recipe() -> Path:
    return Path(train.__file__).parent / "recipes" / "tiny.yaml"


# ----------------------------------------------------------------------------------------------- training


def _check_saved(folder: Path, paradigm: str, step: int) -> dict:
    for name in MODEL_FILES:
        assert (folder / name).is_file(), f"{folder}/{name}"
    meta = read_metadata(folder)
    expected = prompts.get_paradigm(paradigm)
    assert meta["paradigm"] == paradigm and meta["step"] == step
    assert meta["template"]["name"] == expected.template_name
    assert meta["template"]["version"] == expected.template_version
    assert meta["truncation"]["max_prompt_tokens"] == 384
    assert meta["data"]["data_source"] == "synthetic" and meta["data"]["stats"]["rows_used"] > 0
    assert meta["training"]["num_generations"] == 4 and meta["adapter"] is False
    assert prompts.paradigm_from_metadata(meta).template_name == expected.template_name
    return meta


@pytest.mark.slow
@pytest.mark.parametrize("paradigm", prompts.PARADIGMS)
def test_two_grpo_steps_per_paradigm_leave_a_complete_checkpoint(paradigm, warm_tiny_model, tmp_path, tiny_args,
                                                                  log_history):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "out"
    extra = ["--paradigm", paradigm, "--rewards", "default"]
    if paradigm == "pointwise":  # 4 prompts per step = one whole group of 4 passages
        extra += ["--per_device_train_batch_size", "16"]
    if paradigm == "groupwise":
        extra += ["--zero_variance", "drop"]
    assert train.main(tiny_args(warm_tiny_model, out, *extra)) == 0

    meta = _check_saved(out, paradigm, 2)
    _check_saved(out / "checkpoint-2", paradigm, 2)
    assert [(s["name"], s["weight"]) for s in meta["rewards"]] == [
        (s["name"], s["weight"]) for s in get_paradigm(paradigm).DEFAULT_REWARDS
    ]
    history = [h for h in log_history(out / "checkpoint-2") if "loss" in h]
    assert [h["step"] for h in history] == [1, 2]
    for record in history:
        for key in ("rankrl/zero_variance_fraction", "rankrl/parse_failure_rate", "rankrl/format_ok_rate",
                    "completions/mean_length", "frac_reward_zero_std"):
            assert key in record, key
        for spec in get_paradigm(paradigm).DEFAULT_REWARDS:
            assert f"rewards/{spec['name']}/mean" in record
        assert 0.0 <= record["rankrl/parse_failure_rate"] <= 1.0
        assert record["rankrl/zero_variance_fraction"] == pytest.approx(record["frac_reward_zero_std"])
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and {s["step"] for s in samples} == {0, 1}
    assert all(set(s["rewards"]) == {spec["name"] for spec in get_paradigm(paradigm).DEFAULT_REWARDS} for s in samples)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.model_type == "qwen3"


class _Interrupt(TrainerCallback):
    """Simulates a killed job: stops with KeyboardInterrupt once ``at_step`` has run (before it is saved)."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt


@pytest.mark.slow
def test_interrupted_run_resumes_from_its_last_checkpoint(warm_tiny_model, tmp_path, tiny_args, log_history,
                                                          monkeypatch):
    from safetensors.torch import load_file

    from rankrl.core.errors import ConfigError

    flags = ("--max_steps", "4", "--save_steps", "2")
    out = tmp_path / "out"
    make_trainer = train.make_trainer

    def interrupted(*args, **kwargs):
        trainer = make_trainer(*args, **kwargs)
        trainer.add_callback(_Interrupt(at_step=3))
        return trainer

    monkeypatch.setattr(train, "make_trainer", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.main(tiny_args(warm_tiny_model, out, *flags))
    assert (out / "checkpoint-2" / "rankrl.json").is_file()
    assert not (out / "checkpoint-4").exists() and not (out / "rankrl.json").exists()
    monkeypatch.setattr(train, "make_trainer", make_trainer)

    assert train.main(tiny_args(warm_tiny_model, out, *flags)) == 0
    state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4 and read_metadata(out)["step"] == 4
    assert [h["step"] for h in log_history(out / "checkpoint-4") if "loss" in h] == [1, 2, 3, 4]

    # The resumed run ends where an uninterrupted one does (same data order and sampling seeds).
    straight = tmp_path / "straight"
    assert train.main(tiny_args(warm_tiny_model, straight, *flags)) == 0
    resumed, reference = load_file(out / "model.safetensors"), load_file(straight / "model.safetensors")
    assert resumed.keys() == reference.keys()
    for name in reference:
        torch.testing.assert_close(resumed[name], reference[name], rtol=1e-4, atol=1e-5)

    # Another paradigm on the finished folder: refused with the diff of what changed (rl/resume.py)
    with pytest.raises(ConfigError, match="trained with other settings") as err:
        train.main(tiny_args(warm_tiny_model, out, *flags, "--paradigm", "listwise", "--rewards", "default"))
    assert '- paradigm: "pointwise" -> "listwise"' in str(err.value) and "--resume_policy fresh" in str(err.value)


@pytest.mark.slow
def test_lora_saves_an_adapter_and_optionally_merged_weights(warm_tiny_model, tmp_path, tiny_args):
    from safetensors.torch import load_file

    out = tmp_path / "out"
    flags = ["--use_peft", "true", "--lora_r", "4", "--lora_alpha", "8", "--lora_target_modules", "q_proj", "v_proj",
             "--merge_lora", "true", "--learning_rate", "0.01"]
    assert train.main(tiny_args(warm_tiny_model, out, *flags)) == 0
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(warm_tiny_model) and adapter["r"] == 4
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    meta = read_metadata(out)
    assert meta["adapter"] is True and meta["lora"]["r"] == 4 and meta["base_model"] == str(warm_tiny_model)
    merged = out / "merged"
    assert read_metadata(merged)["adapter"] is False
    base, tuned = load_file(warm_tiny_model / "model.safetensors"), load_file(merged / "model.safetensors")
    q = "model.layers.0.self_attn.q_proj.weight"
    assert tuned[q].shape == base[q].shape and not torch.equal(tuned[q], base[q])
    mlp = "model.layers.0.mlp.up_proj.weight"
    assert torch.equal(tuned[mlp], base[mlp])  # not a LoRA target


def test_dry_run_without_a_prompt_budget_fits_prompts_to_the_model_context(warm_tiny_model, tmp_path, capsys):
    """No max_prompt_tokens: the run says it fits prompts to max_position_embeddings - max_completion_length."""
    recipe = tmp_path / "no-budget.yaml"
    lines = [line for line in train_recipe().read_text().splitlines() if not line.startswith("max_prompt_tokens:")]
    recipe.write_text("\n".join(lines) + "\n")
    flags = ["--config", str(recipe), "--model_name_or_path", str(warm_tiny_model), "--output_dir",
             str(tmp_path / "out"), "--synthetic_queries", "4", "--max_completion_length", "48", "--dry_run", "true"]
    assert train.main(flags) == 0
    err = capsys.readouterr().err
    assert ("max_prompt_tokens is not set: prompts are fitted to the model's context, 8144 tokens "
            "(max_position_embeddings 8192 - max_completion_length 48)") in err
    assert "prompts truncated to fit max_prompt_tokens=8144" in err
