"""Training configuration: precedence, unknown keys, batch arithmetic, validation, every shipped recipe."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from trl import GRPOConfig, ModelConfig

from rankrl.core.errors import ConfigError
from rankrl.prompts import get_paradigm
from rankrl.rl.config import (
    ScriptArguments,
    check_batch_sizes,
    paradigm_from_script,
    parse_args,
    parse_reward_spec,
    validate,
)

CPU = ["--use_cpu", "true", "--bf16", "false", "--report_to", "none"]


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_script_fields_do_not_clash_with_trl_configs():
    ours = {f.name for f in dataclasses.fields(ScriptArguments)}
    assert not ours & {f.name for f in dataclasses.fields(GRPOConfig)}
    assert not ours & {f.name for f in dataclasses.fields(ModelConfig)}


def test_precedence_default_then_yaml_then_cli(tmp_path):
    recipe = write(tmp_path, "paradigm: listwise\nlearning_rate: 2.0e-4\nnum_generations: 4\n"
                             "per_device_train_batch_size: 8\ngroup_size: 6\n")
    script, args, _, loaded = parse_args(["--config", str(recipe), *CPU])
    assert (script.paradigm, args.learning_rate, script.group_size) == ("listwise", 2.0e-4, 6)
    assert script.top_n == 100 and args.beta == 0.0  # untouched defaults
    assert loaded.path == recipe
    script, args, _, _ = parse_args(["--config", str(recipe), *CPU, "--learning_rate", "5e-5", "--group_size", "3"])
    assert args.learning_rate == 5e-5 and script.group_size == 3 and script.paradigm == "listwise"


def test_yaml_scientific_notation_without_dot_is_still_a_float(tmp_path):
    recipe = write(tmp_path, "learning_rate: 1e-5\nnum_generations: 4\nper_device_train_batch_size: 4\n")
    _, args, _, _ = parse_args(["--config", str(recipe), *CPU])
    assert args.learning_rate == 1e-5


def test_unknown_recipe_keys_are_named_with_their_lines(tmp_path):
    recipe = write(tmp_path, "paradigm: setwise\nlearnin_rate: 1.0\nfoo_bar: 3\n")
    with pytest.raises(ConfigError) as err:
        parse_args(["--config", str(recipe), *CPU])
    message = str(err.value)
    assert f"{recipe}:2: 'learnin_rate'" in message and "did you mean 'learning_rate'" in message
    assert f"{recipe}:3: 'foo_bar'" in message


def test_unknown_flag_and_bad_value_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown command-line argument.*--no_such_flag"):
        parse_args([*CPU, "--no_such_flag", "1"])
    with pytest.raises(ConfigError, match="max_prompt_tokens.*invalid int value"):
        parse_args([*CPU, "--max_prompt_tokens", "many"])
    with pytest.raises(ConfigError, match="--config needs a recipe path"):
        parse_args(["--config"])


@pytest.mark.parametrize(
    ("recipe", "processes", "needles"),
    [
        ("per_device_train_batch_size: 8\nnum_generations: 3\n", 1,
         ("generation_batch_size (8) must be divisible by num_generations (3)",  # TRL's own words
          "Fix: the generation batch (8 completions: processes (1)", "multiple of 3 (e.g. 9)")),
        ("per_device_train_batch_size: 2\nnum_generations: 8\n", 3, ("multiple of 8 (e.g. 8)",)),
        ("per_device_train_batch_size: 2\nnum_generations: 8\n", 2, ("multiple of 4 (e.g. 4), or num_generations",)),
        ("per_device_train_batch_size: 4\nnum_generations: 1\n", 1, ("num_generations >= 2",)),
        ("per_device_train_batch_size: 4\nnum_generations: 4\ngeneration_batch_size: 6\n", 1,
         ("generation_batch_size (6) must be divisible by the global batch size (4)",)),
        ("per_device_train_batch_size: 4\nnum_generations: 4\ngeneration_batch_size: 8\nsteps_per_generation: 2\n",
         1, ("can not be both configured",)),
    ],
)
def test_trl_checks_the_batch_layout_and_rankrl_adds_the_fix(tmp_path, recipe, processes, needles):
    """TRL's GRPOConfig.__post_init__ owns these rules (for the stated process count); rankrl only adds the fix."""
    path = write(tmp_path, recipe)
    with pytest.raises(ConfigError) as err:
        parse_args(["--config", str(path), *CPU], num_processes=processes)
    assert str(err.value).startswith(f"{path}: invalid configuration: ")
    for needle in needles:
        assert needle in str(err.value)


def test_valid_batch_layouts_pass_for_their_process_count(tmp_path):
    for recipe, processes in (("per_device_train_batch_size: 8\nnum_generations: 8\n", 4),
                              ("per_device_train_batch_size: 2\nnum_generations: 8\n", 4),
                              ("per_device_train_batch_size: 2\nnum_generations: 8\ngradient_accumulation_steps: 4\n",
                               1)):
        _, args, _, _ = parse_args(["--config", str(write(tmp_path, recipe)), *CPU], num_processes=processes)
        assert args.generation_batch_size % args.num_generations == 0


def test_process_count_is_part_of_the_check(tmp_path):
    recipe = write(tmp_path, "per_device_train_batch_size: 2\nnum_generations: 8\n")
    _, args, _, _ = parse_args(["--config", str(recipe), *CPU], num_processes=4)
    assert args.per_device_train_batch_size == 2 and args.generation_batch_size == 8
    assert args.steps_per_generation == 1
    with pytest.raises(ConfigError, match=r"processes \(3\)"):
        parse_args(["--config", str(recipe), *CPU], num_processes=3)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("format", {"name": "format", "weight": 1.0}),
        ("recall:0.5", {"name": "recall", "weight": 0.5}),
        ("recall:0.5:k=20,rel_level=2", {"name": "recall", "weight": 0.5, "k": 20, "rel_level": 2}),
        ("{name: listwise_ndcg, weight: 2, k: 5}", {"name": "listwise_ndcg", "weight": 2, "k": 5}),
        ({"name": "recall", "weight": 0.3, "params": {"k": 5}}, {"name": "recall", "weight": 0.3, "k": 5}),
        ({"name": "format", "mode": "partial"}, {"name": "format", "mode": "partial", "weight": 1.0}),
    ],
)
def test_reward_specs_from_yaml_or_flags(item, expected):
    assert parse_reward_spec(item) == expected


@pytest.mark.parametrize("item", ["recall:x", "recall:1:k", "", 3, {"weight": 1}, {"name": "a", "params": [1]}])
def test_bad_reward_specs(item):
    with pytest.raises(ConfigError, match=r"rewards\[0\]"):
        parse_reward_spec(item)


def test_rewards_from_cli_and_default(tmp_path):
    script, *_ = parse_args([*CPU, "--paradigm", "listwise", "--rewards", "listwise_ndcg:1:k=5", "format:0.1"])
    assert script.reward_specs(paradigm_from_script(script)) == [{"name": "listwise_ndcg", "weight": 1.0, "k": 5},
                                     {"name": "format", "weight": 0.1}]
    script, *_ = parse_args([*CPU, "--paradigm", "groupwise", "--rewards", "default"])
    assert script.reward_specs(paradigm_from_script(script)) == get_paradigm("groupwise").default_rewards()


def _parsed(*flags: str):
    return parse_args([*CPU, "--model_name_or_path", "m", "--num_generations", "4",
                       "--per_device_train_batch_size", "8", *flags])[:3]


def test_validate_collects_every_problem():
    script, args, model = _parsed("--paradigm", "setwise", "--rewards", "listwise_ndcg", "--zero_variance", "maybe",
                                  "--data_source", "nowhere:x")
    with pytest.raises(ConfigError) as err:
        validate(script, args, model, check_paths=False)
    message = str(err.value)
    assert "data_source kind 'nowhere'" in message
    assert "listwise_ndcg" in message and "setwise" in message
    assert "zero_variance must be one of keep, drop" in message


def test_validate_data_source_rules(tmp_path):
    script, args, model = _parsed()
    with pytest.raises(ConfigError, match="exactly one data source"):
        validate(script, args, model)
    script, args, model = _parsed("--data_source", "synthetic", "--dataset_dir", str(tmp_path))
    with pytest.raises(ConfigError, match="exactly one data source"):
        validate(script, args, model)
    script, args, model = _parsed("--dataset_dir", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="is not a folder"):
        validate(script, args, model)
    script, args, model = _parsed("--data_source", "rankgpt:cands.json")
    with pytest.raises(ConfigError, match="rankgpt_qrels is needed with data_source rankgpt:FILE"):
        validate(script, args, model, check_paths=False)
    script, args, model = _parsed("--data_source", "synthetic", "--max_prompt_tokens", "128")
    assert validate(script, args, model).warnings == []


def test_validate_warns_without_prompt_budget_and_refuses_reward_weights():
    script, args, model = _parsed("--data_source", "synthetic")
    assert any("max_prompt_tokens is not set" in w for w in validate(script, args, model).warnings)
    script, args, model = _parsed("--data_source", "synthetic", "--reward_weights", "1.0")
    with pytest.raises(ConfigError, match="not reward_weights"):
        validate(script, args, model)


def test_validate_vllm_context_and_mode():
    base = ("--data_source", "synthetic", "--use_vllm", "true", "--max_completion_length", "2048")
    script, args, model = _parsed(*base)
    with pytest.raises(ConfigError, match="use_vllm needs max_prompt_tokens"):
        validate(script, args, model)
    script, args, model = _parsed(*base, "--max_prompt_tokens", "4096", "--vllm_max_model_length", "4096")
    with pytest.raises(ConfigError, match=r"4096\) \+ max_completion_length \(2048\) = 6144 exceeds vllm_max_model_length"):
        validate(script, args, model)
    script, args, model = _parsed(*base, "--max_prompt_tokens", "4096", "--vllm_mode", "remote")
    with pytest.raises(ConfigError, match="vllm_mode must be 'colocate' or 'server'"):
        validate(script, args, model)
    script, args, model = _parsed(*base, "--max_prompt_tokens", "4096", "--vllm_tensor_parallel_size", "3")
    with pytest.raises(ConfigError, match=r"must divide the number of processes \(4\)"):
        validate(script, args, model, num_processes=4)
    script, args, model = _parsed(*base, "--max_prompt_tokens", "4096", "--vllm_max_model_length", "6144")
    assert validate(script, args, model).warnings == []


def test_validate_refuses_loggers_that_are_not_installed(monkeypatch):
    from transformers import integrations

    monkeypatch.setattr(integrations, "get_available_reporting_integrations", lambda: ["tensorboard"])
    script, args, model = _parsed("--data_source", "synthetic", "--max_prompt_tokens", "64", "--report_to", "wandb")
    with pytest.raises(ConfigError, match="report_to wandb: the wandb package is not installed"):
        validate(script, args, model)
    assert validate(script, args, model, check_device=False).warnings == []
    script, args, model = _parsed("--data_source", "synthetic", "--max_prompt_tokens", "64",
                                  "--report_to", "tensorboard")
    assert validate(script, args, model).warnings == []


def test_validate_device_rules():
    script, args, model = parse_args(["--model_name_or_path", "m", "--data_source", "synthetic",
                                      "--max_prompt_tokens", "64", "--use_cpu", "true", "--bf16", "true",
                                      "--num_generations", "4", "--per_device_train_batch_size", "4"])[:3]
    with pytest.raises(ConfigError, match="set bf16: false on CPU"):
        validate(script, args, model)


def _recipes(recipes_dir: Path) -> list[Path]:
    return sorted(recipes_dir.glob("*.yaml"))


# rankrl's own GPU recipes share one house style (bf16, vLLM colocate, LoRA); the reproduction recipes follow their
# publications instead and are checked value by value in tests/rl/test_reproduction_recipes.py.
HOUSE_RECIPES = {"listwise-qwen2.5-7b.yaml", "groupwise-qwen2.5-7b.yaml", "pointwise-qwen2.5-7b.yaml"}


def _is_sft(path: Path) -> bool:
    return path.name.startswith("sft-") or "-sft-" in path.name


def test_every_recipe_parses_and_validates(recipes_dir):
    recipes = _recipes(recipes_dir)
    assert {p.name for p in recipes} >= {
        "tiny.yaml", "rank-r1-setwise-qwen2.5-3b.yaml", "rank-r1-setwise-qwen2.5-7b.yaml",
        "rank-r1-setwise-qwen2.5-14b.yaml", *HOUSE_RECIPES,
    }
    for path in recipes:
        if _is_sft(path):
            continue  # SFT recipes: see test_every_sft_recipe_parses_and_validates
        if path.name == "tiny.yaml":
            script, args, model, _ = parse_args(["--config", str(path)])
            assert validate(script, args, model, check_paths=False).warnings == []
            assert args.use_cpu and not args.bf16 and not args.gradient_checkpointing
            continue
        if path.name.startswith("prorank-"):
            continue  # CPU recipes for SmolLM2: dry-run and smoke steps in tests/rl/test_reproduction_recipes.py
        # A GPU recipe checked on this CPU machine for the 4-8 GPUs it is written for, without its model.
        for processes in (4, 8):
            script, args, model, _ = parse_args(["--config", str(path), "--use_cpu", "true"],
                                                num_processes=processes)
            assert validate(script, args, model, num_processes=processes, check_device=False,
                            check_paths=False).warnings == [], path.name
        if path.name not in HOUSE_RECIPES:
            continue
        assert args.bf16 and args.use_vllm and args.vllm_mode == "colocate" and model.use_peft
        assert script.max_prompt_tokens + args.max_completion_length <= args.vllm_max_model_length
        # TRL-version-sensitive values are written in the file itself
        text = path.read_text()
        for key in ("loss_type:", "beta:", "scale_rewards:", "gradient_checkpointing:"):
            assert f"\n{key}" in text, (path.name, key)


def test_every_sft_recipe_parses_and_validates(recipes_dir):
    from trl import SFTConfig

    from rankrl.rl.sft import SFTScriptArguments, validate_sft

    recipes = sorted(recipes_dir.glob("sft-*.yaml"))  # rankrl's own; the reproductions' SFT recipes: test_reproduction_recipes
    assert {p.name for p in recipes} >= {"sft-tiny.yaml", "sft-listwise-qwen2.5-7b.yaml"}
    for path in recipes:
        flags = ["--config", str(path), "--traces", "traces.jsonl"]
        if path.name != "sft-tiny.yaml":
            flags += ["--use_cpu", "true"]
        script, args, model, _ = parse_args(flags, script_type=SFTScriptArguments, config_type=SFTConfig,
                                            num_processes=8)
        validate_sft(script, args, model, check_device=path.name == "sft-tiny.yaml", check_paths=False)
        assert script.max_prompt_tokens < args.max_length and args.completion_only_loss is True
        with pytest.raises(ConfigError, match="num_generations"):
            parse_args([*flags, "--num_generations", "4"], script_type=SFTScriptArguments, config_type=SFTConfig)


@pytest.mark.parametrize("raw", [
    {"per_device_train_batch_size": 0},  # an SFT config: no num_generations, still checked
    {"gradient_accumulation_steps": -1},
    {"per_device_train_batch_size": 0, "num_generations": 4},
])
def test_batch_sizes_below_one_are_refused_for_every_trainer(raw):
    with pytest.raises(ConfigError, match=r"must be >= 1, got (0|-1)"):
        check_batch_sizes(raw)


def test_sft_config_with_a_zero_batch_is_refused():
    from rankrl.rl.sft import SFTScriptArguments

    with pytest.raises(ConfigError, match="per_device_train_batch_size must be >= 1, got 0"):
        parse_args([*CPU, "--per_device_train_batch_size", "0"], script_type=SFTScriptArguments,
                   config_type="SFTConfig", prog="rankrl sft")


def test_abbreviated_flags_are_refused(tmp_path):
    """argparse would read ``--learning_r`` as ``--learning_rate``: a typo must not silently set another field."""
    with pytest.raises(ConfigError, match="unknown command-line argument.*--learning_r"):
        parse_args([*CPU, "--learning_r", "1e-5", "--num_generations", "4", "--per_device_train_batch_size", "4"])


def test_broken_yaml_is_reported_before_trl_is_imported(tmp_path):
    """Reading the recipe comes first: a syntax error costs no TRL/torch import (seconds)."""
    import subprocess
    import sys

    recipe = write(tmp_path, "paradigm: setwise\nrewards: [format\nlearning_rate: 1e-5\n")
    code = ("import sys\nfrom rankrl.core.errors import ConfigError\nfrom rankrl.rl.config import parse_args\n"
            "try:\n    parse_args(['--config', sys.argv[1]])\nexcept ConfigError as err:\n    print(err)\n"
            "print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code, str(recipe)], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(f"{recipe}:") and "malformed YAML" in out[0]
    assert out[-1] == "[]"


def test_validate_checks_the_model_folder_and_output_dir_up_front(tmp_path):
    base = ("--data_source", "synthetic", "--max_prompt_tokens", "64")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, needle in ((a_file, "exists and is not a folder"), (a_file / "sub", "is a file, not a folder")):
        script, args, model = _parsed(*base, "--output_dir", str(out))
        with pytest.raises(ConfigError, match=needle):
            validate(script, args, model)
        assert validate(script, args, model, check_paths=False).warnings == []  # a cluster recipe checked elsewhere
    script, args, model = _parsed(*base, "--output_dir", str(tmp_path / "new" / "out"))
    assert validate(script, args, model).warnings == [] and not (tmp_path / "new").exists()
    for missing in (tmp_path / "no-model", "./no-model", "runs/a/b"):
        script, args, model = _parsed(*base, "--model_name_or_path", str(missing))
        with pytest.raises(ConfigError, match=f"model folder not found: {missing}"):
            validate(script, args, model)
    script, args, model = _parsed(*base, "--model_name_or_path", "Qwen/Qwen2.5-7B-Instruct")
    assert validate(script, args, model).warnings == []  # a hub id: checked when it is loaded


def test_an_unset_prompt_budget_defaults_to_what_the_model_context_leaves():
    """Issue 15 item 12: no max_prompt_tokens -> prompts fitted to max_position_embeddings - max_completion_length."""
    from types import SimpleNamespace

    from rankrl.rl.config import default_prompt_budget

    script = SimpleNamespace(max_prompt_tokens=None)
    model = SimpleNamespace(max_position_embeddings=2048)
    assert default_prompt_budget(script, SimpleNamespace(max_completion_length=512), model) == 1536
    assert default_prompt_budget(SimpleNamespace(max_prompt_tokens=300), SimpleNamespace(max_completion_length=512),
                                 model) is None  # the recipe's own budget stands
    assert default_prompt_budget(script, SimpleNamespace(max_completion_length=512),
                                 SimpleNamespace()) is None  # a model that states no context length
    with pytest.raises(ConfigError, match=r"max_completion_length \(2048\) leaves no room"):
        default_prompt_budget(script, SimpleNamespace(max_completion_length=2048), model)
