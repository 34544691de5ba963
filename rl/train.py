"""``rankrl train --config RECIPE.yaml [--field value ...]``: GRPO training of a reasoning reranker.

The pipeline: configuration -> tokenizer checks -> data -> rows -> rewards -> ``GRPOTrainer`` -> train -> save.
Every check that can fail on the user's input runs before a model is loaded or anything is written. Training
resumes from the last complete ``checkpoint-N`` in ``output_dir`` when there is one (a half-written one, left by a
kill during a save, is skipped with a warning; a damaged file is reported by name).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rankrl.core.errors import ConfigError, RankrlError
from rankrl.core.metadata import write_metadata
from rankrl.rl.checkpoint import guard_checkpoint_loading, training_metadata
from rankrl.rl.config import check_context, default_prompt_budget, parse_args, validate
from rankrl.rl.resume import plan_resume, prepare, train_or_finish, writing
from rankrl.rl.rows_source import TrainRows, build_train_rows
from rankrl.rl.tokens import check_answer_tags


def main(argv: list[str]) -> int:
    from rankrl.rl.train_help import help_mode, no_config_error, render_help

    if (mode := help_mode(argv)) is not None:  # rendered without importing TRL (rl/train_help.py)
        from rankrl.rl.config import ScriptArguments

        print(render_help("train", ScriptArguments, "GRPOConfig", mode), end="")
        return 0
    if not argv:
        raise no_config_error("train", "rl/recipes/tiny.yaml")
    from rankrl.rl.api import TrainConfig

    run(TrainConfig(*parse_args(argv)))
    return 0


def run(config: Any) -> Any:
    """Train with ``config`` (``rl.api.TrainConfig``: script arguments, ``GRPOConfig``, ``ModelConfig``, recipe)
    and return a ``rl.api.TrainResult``; ``rankrl train`` and ``rankrl.rl.train`` both come here."""
    from rankrl.rl.api import TrainResult

    script, args, model_args, recipe = config.script, config.args, config.model, config.recipe
    plan = validate(script, args, model_args)
    for warning in plan.warnings:
        _say(f"warning: {warning}")
    _apply_env(recipe)

    tokenizer = load_tokenizer(model_args, args)
    model_config = _model_config(model_args, args)
    if (budget := default_prompt_budget(script, args, model_config)) is not None:
        # The run's one paradigm (shared with the rewards, whose parsing does not depend on it) fits prompts to
        # this budget, and rankrl.json records it, so evaluation holds prompts to it too.
        script.max_prompt_tokens = plan.paradigm.max_prompt_tokens = budget
        _say(f"max_prompt_tokens is not set: prompts are fitted to the model's context, {budget} tokens "
             f"(max_position_embeddings {model_config.max_position_embeddings} - max_completion_length "
             f"{args.max_completion_length})")
    check_context(script, args, model_config)
    rows = build_train_rows(script, plan.paradigm, tokenizer, show_progress=_is_main())
    plan = plan.for_paradigm(rows.paradigm)  # a built dataset's own paradigm (template) when it differs
    grades = [g for rel in rows.dataset["relevance"] for g in rel]
    plan.use_data_grade_max(float(max(grades) or 1))
    reward_funcs, reward_specs = plan.reward_funcs, plan.reward_specs
    args.reward_weights = list(plan.weights)
    check_group_layout(script, args, rows, reward_specs)
    _say(describe_plan(script, args, model_args, rows, reward_specs))
    result = TrainResult(output_dir=Path(args.output_dir), step=None, paradigm=rows.paradigm.name,
                         rows=len(rows.dataset), rewards=reward_specs, dry_run=bool(script.dry_run))
    if script.dry_run:
        return result
    if args.use_vllm and importlib.util.find_spec("vllm") is None:
        raise ConfigError("use_vllm is set but vLLM is not installed: pip install -e '.[vllm]' (GPU only)")
    meta = training_metadata(rows.paradigm, script, args, model_args, reward_specs, _rows_info(rows))
    # finished run / changed settings / interrupted run: rl/resume.py (the resume policy)
    resume = plan_resume(args.output_dir, args.resume_from_checkpoint, rows.paradigm.name, meta, args.max_steps,
                         script.resume_policy, warn=lambda message: _say(f"warning: {message}"))
    if resume.finished:
        _say(resume.finished)
        return result.finish(meta)
    with writing(args.output_dir, _is_main()):  # folder lock, full disk -> exit 2, umask permissions
        if _is_main():
            prepare(resume, _say)
        trainer = make_trainer(script, args, model_args, tokenizer, rows, reward_funcs, meta)
        guard_checkpoint_loading(trainer, resume.checkpoint)
        if resume.checkpoint:
            _say(f"resuming from {resume.checkpoint}")
        train_or_finish(trainer, resume, _say)
        save_final(trainer, script, model_args, tokenizer, meta)
    return result.finish(meta, trainer)


# ----------------------------------------------------------------------------------------------- steps


def load_tokenizer(model_args: Any, args: Any) -> Any:
    """The model's tokenizer, checked: it renders chat prompts and keeps the answer tags when decoding."""
    from transformers import AutoTokenizer

    name = model_args.model_name_or_path
    from rankrl.core.hub_check import check_model_available

    check_model_available(name, model_args.model_revision)  # seconds, not ~50 s of Hub retries
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            name, revision=model_args.model_revision, trust_remote_code=args.trust_remote_code
        )
    except (OSError, ValueError) as err:
        where = "" if Path(str(name)).expanduser().is_dir() else (
            f" ({name} is not a folder under {Path.cwd()}, so it was looked up as a Hugging Face Hub model id; "
            f"if you meant a local checkpoint, check the path)")
        raise RankrlError(f"cannot load the tokenizer of {name}{where}: {err}") from err
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"{name}: the tokenizer has no chat template; rankrl prompts are chat messages")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    check_answer_tags(tokenizer, source=f"{name} tokenizer")
    return tokenizer


def _model_config(model_args: Any, args: Any) -> Any:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(
            model_args.model_name_or_path, revision=model_args.model_revision,
            trust_remote_code=args.trust_remote_code,
        )
    except (OSError, ValueError) as err:
        raise RankrlError(f"cannot load the model config of {model_args.model_name_or_path}: {err}") from err


def check_group_layout(script: Any, args: Any, rows: TrainRows, reward_specs: list[dict[str, Any]]) -> None:
    """A pointwise listwise-derived reward compares the passages of a group: all of a group's rows must fall in
    one process's share of a generation batch."""
    if not rows.paradigm.one_passage_per_prompt or not any(s["name"] == "pointwise_listwise" for s in reward_specs):
        return
    if "group" not in rows.dataset.column_names:
        raise ConfigError("pointwise_listwise needs the rows' 'group' column (rebuild with `rankrl data build`)")
    group_rows = max(Counter(rows.dataset["group"]).values())
    local_prompts = args.per_device_train_batch_size * args.steps_per_generation // args.num_generations
    if local_prompts % group_rows:
        raise ConfigError(
            f"pointwise_listwise compares the {group_rows} passages of a group, but each process generates for "
            f"per_device_train_batch_size ({args.per_device_train_batch_size}) × steps_per_generation "
            f"({args.steps_per_generation}) / num_generations ({args.num_generations}) = {local_prompts} prompts "
            f"per batch: make that a multiple of {group_rows} (e.g. per_device_train_batch_size "
            f"{group_rows * args.num_generations // max(1, args.steps_per_generation)})"
        )


def make_trainer(
    script: Any, args: Any, model_args: Any, tokenizer: Any, rows: TrainRows, reward_funcs: list[Any],
    meta: dict[str, Any],
) -> Any:
    """``RankrlGRPOTrainer`` loading the model from its name (TRL handles dtype, DeepSpeed, PEFT, quantization)."""
    from trl import get_peft_config, get_quantization_config

    from rankrl.rl.checkpoint import MetadataCallback
    from rankrl.rl.grpo import RankrlGRPOTrainer

    init_kwargs = {
        "revision": model_args.model_revision,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
    }
    quantization = get_quantization_config(model_args)  # TRL places a quantized model itself
    args.model_init_kwargs = {**init_kwargs, **(args.model_init_kwargs or {})}
    return RankrlGRPOTrainer(
        model=model_args.model_name_or_path,
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=rows.dataset,
        processing_class=tokenizer,
        callbacks=[MetadataCallback(meta)],
        quantization_config=quantization,
        peft_config=get_peft_config(model_args),
        paradigm=rows.paradigm,
        zero_variance=script.zero_variance,
        samples_per_step=script.samples_per_step,
        group_rows=rows.paradigm.one_passage_per_prompt,
        card_tags=["rankrl", "reranker", rows.paradigm.name],
        card_dataset=_dataset_label(rows),
    )


def save_final(trainer: Any, script: Any, model_args: Any, tokenizer: Any, meta: dict[str, Any]) -> None:
    """Model (adapter with LoRA) + tokenizer + model card + rankrl.json in ``output_dir``; optionally merged."""
    output_dir = trainer.args.output_dir
    trainer.save_model(output_dir)  # every process: DeepSpeed ZeRO-3 gathers the weights here
    if not trainer.is_world_process_zero():
        return
    final = {**meta, "step": trainer.state.global_step}
    write_metadata(output_dir, final)
    trainer.create_model_card(model_name=Path(output_dir).name)
    _say(f"saved {output_dir} (step {trainer.state.global_step})")
    if model_args.use_peft and script.merge_lora:
        merged = merge_adapter(output_dir, tokenizer)
        write_metadata(merged, {**final, "adapter": False, "merged_from_adapter": True})
        _say(f"saved merged weights in {merged}")


def merge_adapter(adapter_dir: str, tokenizer: Any) -> Path:
    """Base model + LoRA adapter merged into plain weights, saved to ``<adapter_dir>/merged``."""
    from peft import AutoPeftModelForCausalLM

    model = AutoPeftModelForCausalLM.from_pretrained(adapter_dir, dtype="auto")
    merged = model.merge_and_unload()
    target = Path(adapter_dir) / "merged"
    merged.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


# ----------------------------------------------------------------------------------------------- reporting


def describe_plan(script: Any, args: Any, model_args: Any, rows: TrainRows, reward_specs: list[dict]) -> str:
    stats = rows.stats
    truncated = stats.get("truncated_rows")
    lines = [
        f"model: {model_args.model_name_or_path}"
        + (f" + LoRA r={model_args.lora_r} alpha={model_args.lora_alpha}" if model_args.use_peft else " (full)"),
        f"paradigm: {rows.paradigm.name} (template {rows.paradigm.template_name} v{rows.paradigm.template_version})",
        f"rows: {len(rows.dataset)} from {_dataset_label(rows)}",
    ]
    if truncated is not None:
        lines.append(
            f"prompts truncated to fit max_prompt_tokens={getattr(rows.paradigm, 'max_prompt_tokens', None)}"
            f"{' (when the rows were built)' if rows.source.get('dataset_dir') else ''}: {truncated} of "
            f"{stats.get('rows', len(rows.dataset))} ({100 * stats.get('truncation_rate', 0.0):.1f}%)"
        )
    if stats.get("dropped_over_budget"):
        lines.append(f"rows dropped (prompt over max_prompt_tokens): {stats['dropped_over_budget']}")
    lines.append("rewards: " + ", ".join(f"{s['name']}×{s['weight']}" for s in reward_specs)
                 + f" (format_gate {script.format_gate})")
    lines.append(
        f"GRPO: {args.num_generations} generations, generation batch {args.generation_batch_size}, "
        f"loss {args.loss_type}, beta {args.beta}, scale_rewards {args.scale_rewards}, lr {args.learning_rate}, "
        f"zero_variance {script.zero_variance}, rollouts {'vLLM ' + args.vllm_mode if args.use_vllm else 'transformers'}"
    )
    lines.append(f"output: {args.output_dir}" + (" (dry run: nothing written)" if script.dry_run else ""))
    return "\n".join(lines)


def _rows_info(rows: TrainRows) -> dict[str, Any]:
    return {**rows.source, "stats": rows.stats}


def _dataset_label(rows: TrainRows) -> str:
    return rows.source.get("dataset_dir") or rows.source.get("data_source") or "rows"


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _say(message: str) -> None:
    if _is_main():
        print(f"rankrl train: {message}", file=sys.stderr, flush=True)


def _apply_env(recipe: Any) -> None:
    """TRL's ``env:`` recipe block: environment variables for the run, applied once the config is valid."""
    if recipe is None or "env" not in recipe.values:
        return
    env = recipe.values["env"]
    if not isinstance(env, dict):
        raise ConfigError(f"{recipe.where('env')}: 'env' must be a mapping of NAME: value")
    for key, value in env.items():
        os.environ[str(key)] = str(value)
