"""Training configuration: ``ScriptArguments`` + TRL's ``GRPOConfig`` + ``ModelConfig`` from a recipe and flags.

Precedence is dataclass default < YAML recipe < command-line flag (TRL's ``TrlParser`` semantics). On top of
TRL, rankrl makes every configuration mistake a ``ConfigError`` that names the file, line or field and says
what to change, and checks batch arithmetic, devices and vLLM context *before* any model or data is loaded.
Nothing here writes to disk.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rankrl.core.errors import ConfigError, RankrlError
from rankrl.data.sources import RowsSource
from rankrl.rl.recipe import Recipe, check_types, read_recipe

ZERO_VARIANCE_POLICIES = ("keep", "drop")

@dataclass
class ScriptArguments(RowsSource):
    """rankrl's own training fields (names chosen not to clash with ``GRPOConfig``/``ModelConfig``).

    The data source, group and prompt fields are inherited from ``data.sources.RowsSource``: the same names as
    ``rankrl data build``'s flags, checked and dispatched by the same code."""

    dataset_dir: str | None = field(
        default=None, metadata={"help": "rows saved by `rankrl data build` (datasets.save_to_disk folder); instead "
                                        "of data_source"}
    )
    max_train_rows: int | None = field(default=None, metadata={"help": "keep only the first N training rows"})
    # --- rewards ---------------------------------------------------------------------------------------
    rewards: list[str] | None = field(
        default=None,
        metadata={
            "help": "reward specs: YAML mappings {name, weight, <params>} or strings 'name[:weight[:k=v,...]]' "
            "(default, or the single value 'default': the paradigm's defaults)"
        },
    )
    format_gate: str = field(
        default="zero",
        metadata={"help": "what a ranking reward gives an unparsable completion: 'zero', 'minus_one' or 'none'"},
    )
    # --- GRPO extras -----------------------------------------------------------------------------------
    zero_variance: str = field(
        default="keep",
        metadata={"help": "prompts whose completions all got the same reward: 'keep' (TRL's behaviour) or "
                  "'drop' (their tokens leave the loss and its normaliser)"},
    )
    samples_per_step: int = field(
        default=2, metadata={"help": "sample completions written to <output_dir>/samples.jsonl per step (0: none)"}
    )
    merge_lora: bool = field(
        default=False,
        metadata={"help": "with use_peft: also save the base model with the adapter merged in <output_dir>/merged"},
    )
    dry_run: bool = field(
        default=False, metadata={"help": "validate the recipe and build the rows, then stop (no model loaded)"}
    )
    resume_policy: str = field(
        default="check",
        metadata={"help": "rerun into an output_dir whose run used other settings: 'check' refuses with the list "
                  "of changed fields, 'continue' resumes with the new settings (recorded in rankrl.json), 'fresh' "
                  "moves the previous run to output_dir/previous-run-<time>/ and starts from step 0"},
    )

    def reward_specs(self, paradigm: Any) -> list[dict[str, Any]]:
        """The rewards as ``build_rewards`` specs; the paradigm's defaults (``paradigm.default_rewards()``) when
        none are given."""
        if not self.rewards or list(self.rewards) == ["default"]:
            return paradigm.default_rewards()
        return [parse_reward_spec(item, i) for i, item in enumerate(self.rewards)]


def parse_reward_spec(item: Any, index: int = 0) -> dict[str, Any]:
    """One reward spec from a YAML mapping or a ``name[:weight[:key=value,...]]`` string (flags)."""
    where = f"rewards[{index}]"
    if isinstance(item, dict):
        spec = {k: v for k, v in item.items() if k != "params"}
        params = item.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"{where}: 'params' must be a mapping, got {params!r}")
        spec.update(params)
    elif isinstance(item, str) and item.strip().startswith("{"):
        try:
            loaded = yaml.safe_load(item)
        except yaml.YAMLError as err:
            raise ConfigError(f"{where}: cannot read {item!r} as a mapping ({err})") from None
        return parse_reward_spec(loaded, index)
    elif isinstance(item, str) and item.strip():
        name, _, rest = item.strip().partition(":")
        weight, _, params_text = rest.partition(":")
        spec = {"name": name.strip()}
        if weight.strip():
            try:
                spec["weight"] = float(weight)
            except ValueError:
                raise ConfigError(f"{where}: weight {weight!r} in {item!r} is not a number") from None
        for pair in filter(None, (p.strip() for p in params_text.split(","))):
            key, eq, value = pair.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"{where}: parameter {pair!r} in {item!r} must be key=value")
            spec[key.strip()] = yaml.safe_load(value)
    else:
        raise ConfigError(f"{where}: expected a mapping {{name, weight, ...}} or 'name:weight', got {item!r}")
    if not isinstance(spec.get("name"), str) or not spec["name"]:
        raise ConfigError(f"{where}: every reward needs a 'name', got {item!r}")
    spec.setdefault("weight", 1.0)
    return spec


# ----------------------------------------------------------------------------------------------- parsing


def make_parser(script_type: type = ScriptArguments, config_type: type | str | None = None) -> Any:
    """TRL's parser over (rankrl fields, trainer config, ModelConfig). Field-name clashes fail loudly here.

    ``config_type``: the trainer config class, or its name in ``trl`` (``"SFTConfig"``) so callers need not import
    TRL themselves; default ``GRPOConfig``. Abbreviated flags are refused (``--warmup 3`` must not silently mean
    ``--warmup_steps``)."""
    import trl
    from trl import ModelConfig, TrlParser

    if config_type is None or isinstance(config_type, str):
        config_type = getattr(trl, config_type or "GRPOConfig")
    parser = TrlParser((script_type, config_type, ModelConfig), allow_abbrev=False)

    def error(message: str) -> None:  # argparse would print usage and exit; rankrl reports a ConfigError
        raise ConfigError(message)

    parser.error = error
    return parser


def world_size_from_env() -> int:
    """Processes of this launch (``accelerate launch``/``torchrun`` set WORLD_SIZE); 1 when run directly."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def parse_args(
    argv: list[str],
    *,
    script_type: type = ScriptArguments,
    config_type: type | str | None = None,
    num_processes: int | None = None,
    prog: str = "rankrl train",
    recipe_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Any, Any, Any, Recipe | None]:
    """Recipe + flags -> (script args, trainer config, ModelConfig, recipe). Raises ``ConfigError``.

    The recipe is read (YAML syntax, duplicate keys, a mapping) before TRL is imported, so a typo in it is
    reported at once rather than after seconds of imports. ``num_processes`` defaults to this launch's world
    size; pass the intended count to check a recipe for a cluster from a laptop. The library passes
    ``recipe_path`` and ``overrides`` (field -> value, applied over the recipe's values like flags; an unknown
    field is an error naming it) instead of flags.
    """
    argv = list(argv)
    recipe = read_recipe(recipe_path) if recipe_path is not None else None
    if "--config" in argv:
        i = argv.index("--config")
        if i + 1 >= len(argv):
            raise ConfigError("--config needs a recipe path")
        recipe = read_recipe(argv[i + 1])
        del argv[i : i + 2]
    actual = world_size_from_env()
    processes = num_processes or actual
    if processes != actual:  # TRL checks its batch rules for the stated process count, not this launch's
        config_type = _for_world_size(config_type, processes)
    parser = make_parser(script_type, config_type)
    parser.prog = prog
    if recipe is not None or overrides:
        values = dict(recipe.values) if recipe is not None else {}
        values.pop("env", None)  # applied by the caller after validation (TRL's `env:` block)
        values.update(overrides or {})
        unknown = sorted({k[2:] for k in parser.set_defaults_with_config(**values)[::2]})
        if unknown:
            raise ConfigError(
                "unknown field(s) in "
                + "; ".join(f"{'override' if k in (overrides or {}) or recipe is None else recipe.where(k)}: "
                            f"{k!r}{_suggest(parser, k)}" for k in unknown)
            )
        if recipe is not None:
            check_types(recipe, parser.dataclass_types)  # `rewards: 5`, `max_steps: 1.5`: file:line, not a traceback
    namespace, remaining = parser.parse_known_args(argv)
    if remaining:
        flags = [a for a in remaining if a.startswith("-")] or remaining
        raise ConfigError(
            f"unknown command-line argument(s): {' '.join(flags)}"
            + "".join(_suggest(parser, f.lstrip("-")) for f in flags[:1])
        )
    raw = vars(namespace)
    check_batch_sizes(raw)
    try:  # TRL's GRPOConfig.__post_init__ owns the batch / num_generations rules
        script, trainer_cfg, model_cfg = parser.parse_args_into_dataclasses(argv)
    except ValueError as err:  # a TRL/transformers __post_init__ refusing the combination
        where = f"{recipe.path}: " if recipe else ""
        fix = batch_fix(raw, processes)
        # A wrong batch layout is the problem whenever `fix` names one; TRL may have failed on something else on the
        # way (accelerate's rendezvous when WORLD_SIZE is set outside a launcher), which would only mislead.
        trl_words = str(err) if not fix or "num_generations" in str(err) or "batch" in str(err) else ""
        raise ConfigError(f"{where}invalid configuration: {trl_words}{fix}".replace(":  ", ": ")) from None
    return script, trainer_cfg, model_cfg, recipe


def _for_world_size(config_type: type | str | None, processes: int) -> type:
    """The trainer config class with ``world_size`` fixed to ``processes``, so that TRL's own ``__post_init__``
    checks a recipe meant for a cluster from one machine. Such a config is for checking only, not for training."""
    import trl

    base = config_type if isinstance(config_type, type) else getattr(trl, config_type or "GRPOConfig")

    class Checked(base):  # type: ignore[misc,valid-type]
        @property
        def world_size(self) -> int:
            return processes

    Checked.__name__ = Checked.__qualname__ = base.__name__
    return Checked


def _suggest(parser: Any, key: str) -> str:
    import difflib

    names = [a.dest for a in parser._actions if a.dest != "help"]
    close = difflib.get_close_matches(key.replace("-", "_"), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _int(raw: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = raw.get(key, default)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be an integer, got {value!r}") from None


def check_batch_sizes(raw: dict[str, Any]) -> None:
    """Batch sizes >= 1, for every trainer (transformers does not check them; TRL checks the GRPO rules)."""
    for name in ("per_device_train_batch_size", "gradient_accumulation_steps"):
        value = _int(raw, name, 1)
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")


def batch_fix(raw: dict[str, Any], processes: int) -> str:
    """What to change when TRL refuses the GRPO batch layout: a generation batch of ``per_device_train_batch_size
    × processes × steps_per_generation`` completions must hold whole groups of ``num_generations``. Empty when the
    layout is not the problem (TRL's message then stands alone)."""
    if "num_generations" not in raw:
        return ""
    per_device = _int(raw, "per_device_train_batch_size", 8) or 1
    num_generations = _int(raw, "num_generations", 8) or 0
    if num_generations < 2:
        return " (set num_generations >= 2: GRPO compares completions of the same prompt)"
    generation_batch = _int(raw, "generation_batch_size")
    steps = _int(raw, "steps_per_generation") or _int(raw, "gradient_accumulation_steps", 1) or 1
    if generation_batch is None:
        generation_batch = per_device * processes * steps
    if generation_batch % num_generations == 0:
        return ""
    factor = max(1, generation_batch // per_device)  # processes × steps (or generation_batch / per-device)
    need = num_generations // math.gcd(num_generations, factor)
    divisors = sorted(d for d in range(2, generation_batch + 1) if generation_batch % d == 0)
    divisors = sorted(sorted(divisors, key=lambda d: (abs(d - num_generations), d))[:4])
    return (f" Fix: the generation batch ({generation_batch} completions: processes ({processes}) x "
            f"per_device_train_batch_size ({per_device}) x steps_per_generation) must hold whole groups of "
            f"num_generations ({num_generations}); set per_device_train_batch_size to a multiple "
            f"of {need} (e.g. {need * math.ceil(per_device / need)}), or num_generations to one of {divisors}")


# ----------------------------------------------------------------------------------------------- validation


@dataclass
class TrainPlan:
    """What ``validate`` found and built, used as is by training: the paradigm (built once per run), the rewards
    (built once) with their weights, and the warnings."""

    paradigm: Any = None
    reward_specs: list[dict[str, Any]] = field(default_factory=list)
    """One spec per reward, ``weight`` included (recorded in ``rankrl.json``)."""
    reward_funcs: list[Any] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    format_gate: str = "zero"
    warnings: list[str] = field(default_factory=list)

    def use_data_grade_max(self, grade_max: float) -> None:
        """Give the training data's largest grade to every reward that scales grades and was not given its own."""
        from rankrl.rewards.registry import reward_params
        from rankrl.rewards.scales import check_scale

        for func, spec in zip(self.reward_funcs, self.reward_specs):
            if "grade_max" in reward_params(spec["name"]) and "grade_max" not in spec:
                func.grade_max = check_scale("grade_max", float(grade_max or 1), func.name)

    def for_paradigm(self, paradigm: Any) -> TrainPlan:
        """This plan for ``paradigm`` (the one a built dataset was rendered with, when it differs): the rewards
        must parse completions as that paradigm does."""
        if paradigm is self.paradigm:
            return self
        from rankrl.rewards.registry import build_rewards

        funcs, weights = build_rewards(self.reward_specs, paradigm, self.format_gate)
        return TrainPlan(paradigm, self.reward_specs, funcs, weights, self.format_gate, self.warnings)


def validate(
    script: Any,
    args: Any,
    model_args: Any,
    *,
    num_processes: int | None = None,
    check_device: bool = True,
    check_paths: bool = True,
) -> TrainPlan:
    """Every check that needs neither the model nor the data. Raises ``ConfigError`` listing all problems;
    returns the plan (paradigm, rewards, weights, warnings) that training then uses. ``check_device`` (this
    machine can run it: CPU/GPU settings, ``report_to`` loggers installed) and ``check_paths`` off: validate a
    cluster recipe on another machine."""
    problems: list[str] = []
    warnings: list[str] = []
    processes = num_processes or world_size_from_env()
    plan = TrainPlan(format_gate=script.format_gate, warnings=warnings)

    if not model_args.model_name_or_path:
        problems.append("model_name_or_path is not set (a hub id or a local folder, e.g. from `rankrl tiny-model`)")
    if check_paths:
        problems += check_model_and_output(model_args, args)
    problems += _check_data_source(script, check_paths)
    problems += _plan_prompts_and_rewards(script, plan)
    if script.zero_variance not in ZERO_VARIANCE_POLICIES:
        problems.append(f"zero_variance must be one of {', '.join(ZERO_VARIANCE_POLICIES)}, got {script.zero_variance!r}")
    from rankrl.rl.resume import check_policy

    problems += check_policy(script.resume_policy)
    if script.samples_per_step < 0:
        problems.append(f"samples_per_step must be >= 0, got {script.samples_per_step}")
    if script.max_train_rows is not None and script.max_train_rows < 1:
        problems.append(f"max_train_rows must be >= 1, got {script.max_train_rows}")
    if args.max_completion_length is None or args.max_completion_length < 1:
        problems.append("max_completion_length must be a positive number of tokens")
    if args.reward_weights is not None:
        problems.append(
            "set reward weights in `rewards` ({name, weight}), not reward_weights: rankrl fills reward_weights"
        )
    if script.max_prompt_tokens is None:
        warnings.append(
            "max_prompt_tokens is not set: prompts are fitted to the model's context (max_position_embeddings - "
            "max_completion_length) when the model states one, and not cut at all otherwise (TRL 1.16 has no "
            "max_prompt_length); set it to hold training and evaluation to a smaller budget"
        )
    if check_device:
        problems += _check_device(args)
        problems += _check_report_to(args)
    problems += _check_vllm(script, args, processes)
    if getattr(args, "trust_remote_code", False):
        warnings.append("trust_remote_code is on: the model repository's own Python code will run")
    if problems:
        raise ConfigError("invalid training configuration:\n  - " + "\n  - ".join(problems))
    return plan


def check_model_and_output(model_args: Any, args: Any) -> list[str]:
    """A local model folder that does not exist, and an ``output_dir`` that is a file or cannot be created: found
    now, not after the data is built and the model loaded (train and sft)."""
    from rankrl.core.atomic import check_creatable
    from rankrl.core.model_path import missing_local_model, refuse_pickled_weights

    problems = []
    model = model_args.model_name_or_path
    if model and missing_local_model(model):
        problems.append(f"model folder not found: {model} (model_name_or_path)")
    elif model:
        try:
            refuse_pickled_weights(model, "model_name_or_path")  # a pickle can run code: safetensors only
        except RankrlError as err:
            problems.append(str(err))
    output_dir = getattr(args, "output_dir", None)
    if output_dir:
        if os.path.exists(output_dir) and not os.path.isdir(output_dir):
            problems.append(f"output_dir {output_dir} exists and is not a folder")
        else:
            try:
                check_creatable(output_dir, "output_dir")
            except RankrlError as err:
                problems.append(str(err))
    return problems


def _check_data_source(script: Any, check_paths: bool) -> list[str]:
    """Exactly one of ``dataset_dir`` and ``data_source``; the source itself is checked by
    ``data.sources.RowsSource.problems`` (the same check ``rankrl data build`` runs)."""
    if bool(script.dataset_dir) == bool(script.data_source):
        return [("give exactly one data source: dataset_dir (rows from `rankrl data build`) or data_source "
                 "('synthetic', 'benchmark:NAME', 'tevatron:FILE|hf', 'rankgpt:FILE')")]
    if script.dataset_dir:
        if check_paths and not os.path.isdir(script.dataset_dir):
            return [f"dataset_dir {script.dataset_dir} is not a folder (build it with `rankrl data build`)"]
        return []
    return [str(p) for p in script.problems(check_paths=check_paths, check_paradigm=False)]  # built by the plan


def paradigm_from_script(script: Any) -> Any:
    """The prompts paradigm these arguments describe (template and truncation settings included); for any
    arguments with the prompt fields (``ScriptArguments``: the same as ``RowsSource.make_paradigm``, and SFT's)."""
    from rankrl.prompts import get_paradigm

    return get_paradigm(
        script.paradigm,
        script.template,
        think_prefilled=script.think_prefilled,
        answer_fallback=script.answer_fallback,
        max_passage_chars=script.max_passage_chars,
        max_passage_tokens=script.max_passage_tokens,
        max_prompt_tokens=script.max_prompt_tokens,
    )


def _plan_prompts_and_rewards(script: Any, plan: TrainPlan) -> list[str]:
    """Build the paradigm and the rewards once, into ``plan``; their errors as problems."""
    from rankrl.rewards.registry import build_rewards

    try:
        plan.paradigm = paradigm_from_script(script)
        specs = script.reward_specs(plan.paradigm)
        plan.reward_funcs, plan.weights = build_rewards(specs, plan.paradigm, script.format_gate)
    except RankrlError as err:
        return [str(err)]
    plan.reward_specs = [{**spec, "weight": w} for spec, w in zip(specs, plan.weights)]
    return []


def _check_device(args: Any) -> list[str]:
    import torch

    if args.use_cpu or torch.cuda.is_available():
        if args.use_cpu and args.bf16:
            return ["bf16 with use_cpu: set bf16: false on CPU (bf16 autocast on CPU is slow and TRL-untested)"]
        return []
    return ["no CUDA GPU is visible: set use_cpu: true and bf16: false to train on CPU"]


def _check_report_to(args: Any) -> list[str]:
    """``report_to`` names a logger that is not installed: say so now, not after the model has loaded."""
    from transformers.integrations import get_available_reporting_integrations

    wanted = [r for r in (args.report_to or []) if r not in ("none", "all")]
    available = set(get_available_reporting_integrations())
    extras = {"wandb", "tensorboard", "trackio"}  # pyproject extras: pip install -e '.[wandb]' from the clone
    return [f"report_to {name}: the {name} package is not installed ("
            + (f"pip install -e '.[{name}]' from the rankrl clone" if name in extras else f"pip install {name}")
            + ", or report_to: none)" for name in wanted if name not in available]


def _check_vllm(script: Any, args: Any, processes: int) -> list[str]:
    if not args.use_vllm:
        return []
    problems = []
    if args.vllm_mode not in ("colocate", "server"):
        problems.append(f"vllm_mode must be 'colocate' or 'server', got {args.vllm_mode!r}")
    if script.max_prompt_tokens is None:
        problems.append("use_vllm needs max_prompt_tokens, so prompt + completion can be checked against the "
                        "vLLM context (vllm_max_model_length)")
    elif args.vllm_max_model_length is not None:
        need = script.max_prompt_tokens + args.max_completion_length
        if need > args.vllm_max_model_length:
            problems.append(
                f"max_prompt_tokens ({script.max_prompt_tokens}) + max_completion_length "
                f"({args.max_completion_length}) = {need} exceeds vllm_max_model_length "
                f"({args.vllm_max_model_length}): raise vllm_max_model_length or lower one of the two"
            )
    if args.vllm_mode == "colocate" and processes % max(1, args.vllm_tensor_parallel_size):
        problems.append(
            f"vllm_tensor_parallel_size ({args.vllm_tensor_parallel_size}) must divide the number of "
            f"processes ({processes}) in colocate mode"
        )
    if not 0 < args.vllm_gpu_memory_utilization <= 1:
        problems.append(f"vllm_gpu_memory_utilization must be in (0, 1], got {args.vllm_gpu_memory_utilization}")
    return problems


def default_prompt_budget(script: Any, args: Any, model_config: Any) -> int | None:
    """The prompt budget a GRPO run uses when ``max_prompt_tokens`` is unset: what the model's positions leave after
    ``max_completion_length``. Without it a 10 MB passage went to the tokenizer and the model whole (minutes, then
    out of memory); with it, passages are cut so each prompt fits. None when the model states no context length (or
    for SFT, which has ``max_length``)."""
    limit = getattr(model_config, "max_position_embeddings", None)
    completion = getattr(args, "max_completion_length", None)
    if script.max_prompt_tokens is not None or not isinstance(limit, int) or not isinstance(completion, int):
        return None
    if limit - completion < 1:
        raise ConfigError(f"max_completion_length ({completion}) leaves no room for a prompt in the model's "
                          f"max_position_embeddings ({limit})")
    return limit - completion


def check_context(script: Any, args: Any, model_config: Any) -> None:
    """The longest sequence must fit the model's positions: prompt budget + ``max_completion_length`` (GRPO, and
    vLLM's context when it defaults to them), or ``max_length`` (SFT)."""
    limit = getattr(model_config, "max_position_embeddings", None)
    completion = getattr(args, "max_completion_length", None)
    if completion is not None:
        if script.max_prompt_tokens is None:
            return
        need = script.max_prompt_tokens + completion
        what = (f"max_prompt_tokens ({script.max_prompt_tokens}) + max_completion_length ({completion}) = {need}")
    else:
        need = getattr(args, "max_length", None)
        what = f"max_length ({need})"
    if limit and need and need > limit:
        raise ConfigError(f"{what} exceeds the model's max_position_embeddings ({limit})")
