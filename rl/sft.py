"""``rankrl sft --config RECIPE.yaml [--field value ...]``: cold-start supervised fine-tuning on reasoning traces.

The strongest published reasoning rerankers (ReasonRank, ERank) fine-tune on reasoning traces before GRPO. This
command trains with TRL's ``SFTTrainer`` on prompt/completion pairs rendered by the same ``prompts`` paradigm and
template GRPO and evaluation use, so the checkpoint continues straight into ``rankrl train``.

Traces come from either
- ``traces``: a JSONL file, one ``{"query": str, "passages": [str | {"text", "title"?}], "completion": str}`` a
  line (the completion is the model's full answer, ``<think>…</think><answer>…</answer>``); or
- ``dataset_dir``: rows from ``rankrl data build`` with an added ``completion_column``.
Completions that do not parse under the paradigm are dropped (``drop_unparsable``) and counted.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankrl.core.errors import ConfigError, DataFormatError, RankrlError
from rankrl.core.metadata import write_metadata
from rankrl.rl.checkpoint import _version, guard_checkpoint_loading
from rankrl.rl.config import check_context, check_model_and_output, paradigm_from_script, parse_args
from rankrl.rl.resume import plan_resume, prepare, train_or_finish, writing


@dataclass
class SFTScriptArguments:
    """rankrl's SFT fields (names chosen not to clash with ``SFTConfig``/``ModelConfig``)."""

    traces: str | None = field(default=None, metadata={"help": "JSONL of {query, passages, completion}"})
    dataset_dir: str | None = field(default=None, metadata={"help": "rows from `rankrl data build` + completions"})
    completion_column: str = field(default="completion", metadata={"help": "dataset_dir: the completions' column"})
    paradigm: str = field(default="setwise", metadata={"help": "setwise, listwise, pointwise or groupwise"})
    template: str | None = field(default=None, metadata={"help": "prompt template name or JSON file"})
    think_prefilled: bool = field(default=False, metadata={"help": "the chat template opens <think> itself"})
    answer_fallback: bool = field(default=False, metadata={"help": "read an unclosed answer block (flagged)"})
    max_prompt_tokens: int | None = field(default=None, metadata={"help": "fit each prompt to this many tokens"})
    max_passage_tokens: int | None = field(default=None, metadata={"help": "truncate each passage (tokens)"})
    max_passage_chars: int | None = field(default=None, metadata={"help": "truncate each passage (characters)"})
    drop_unparsable: bool = field(default=True, metadata={"help": "drop traces whose completion does not parse"})
    max_train_rows: int | None = field(default=None, metadata={"help": "keep only the first N traces"})
    merge_lora: bool = field(default=False, metadata={"help": "with use_peft: also save merged weights"})
    dry_run: bool = field(default=False, metadata={"help": "validate and prepare the data, then stop"})
    resume_policy: str = field(
        default="check",
        metadata={"help": "rerun into an output_dir whose run used other settings: 'check' refuses with the list "
                  "of changed fields, 'continue' resumes with the new settings, 'fresh' moves the previous run to "
                  "output_dir/previous-run-<time>/ and starts from step 0"},
    )


def main(argv: list[str]) -> int:
    from rankrl.rl.train_help import help_mode, no_config_error, render_help

    if (mode := help_mode(argv)) is not None:  # rendered without importing TRL (rl/train_help.py)
        print(render_help("sft", SFTScriptArguments, "SFTConfig", mode), end="")
        return 0
    if not argv:
        raise no_config_error("sft", "rl/recipes/sft-tiny.yaml")
    from rankrl.rl.api import SFTRunConfig

    script, args, model_args, recipe = parse_args(  # TRL's SFTConfig by name: the recipe is read before TRL loads
        argv, script_type=SFTScriptArguments, config_type="SFTConfig", prog="rankrl sft"
    )
    run(SFTRunConfig(script, args, model_args, recipe))
    return 0


def run(config: Any) -> Any:
    """Fine-tune with ``config`` (``rl.api.SFTRunConfig``) and return a ``rl.api.TrainResult``; ``rankrl sft`` and
    ``rankrl.rl.sft`` both come here."""
    from rankrl.rl.api import TrainResult

    script, args, model_args = config.script, config.args, config.model
    paradigm = validate_sft(script, args, model_args)
    from rankrl.rl.train import _model_config, load_tokenizer

    tokenizer = load_tokenizer(model_args, args)
    check_context(script, args, _model_config(model_args, args))
    dataset, stats = build_sft_dataset(script, paradigm, tokenizer, args.max_length)
    _say(
        f"SFT: {len(dataset)} traces ({stats['dropped_unparsable']} unparsable dropped, {stats['truncated']} "
        f"prompts truncated, {stats['over_max_length']} longer than max_length={args.max_length}) for "
        f"{paradigm.name} (template {paradigm.template_name} v{paradigm.template_version}); output {args.output_dir}"
    )
    result = TrainResult(output_dir=Path(args.output_dir), step=None, paradigm=paradigm.name, rows=len(dataset),
                         rewards=[], dry_run=bool(script.dry_run))
    if script.dry_run:
        return result
    meta = sft_metadata(paradigm, script, args, model_args, stats)
    main_process = os.environ.get("RANK", "0") == "0"
    # finished run / changed settings / interrupted run: rl/resume.py (the resume policy)
    plan = plan_resume(args.output_dir, args.resume_from_checkpoint, paradigm.name, meta, args.max_steps,
                       script.resume_policy, warn=lambda message: _say(f"warning: {message}"))
    if plan.finished:
        _say(plan.finished)
        return result.finish(meta)
    with writing(args.output_dir, main_process):  # folder lock, full disk -> exit 2, umask permissions
        if main_process:
            prepare(plan, _say)
        trainer = make_sft_trainer(args, model_args, tokenizer, dataset, meta)
        guard_checkpoint_loading(trainer, plan.checkpoint)
        if plan.checkpoint:
            _say(f"resuming from {plan.checkpoint}")
        train_or_finish(trainer, plan, _say)
        trainer.save_model(args.output_dir)
        if trainer.is_world_process_zero():
            write_metadata(args.output_dir, {**meta, "step": trainer.state.global_step})
            trainer.create_model_card(model_name=Path(args.output_dir).name,
                                      tags=["rankrl", "reranker", paradigm.name])
            if model_args.use_peft and script.merge_lora:
                from rankrl.rl.train import merge_adapter

                merged = merge_adapter(args.output_dir, tokenizer)
                write_metadata(merged, {**meta, "step": trainer.state.global_step, "adapter": False})
            _say(f"saved {args.output_dir} (step {trainer.state.global_step})")
    return result.finish(meta, trainer)


def validate_sft(script: Any, args: Any, model_args: Any, *, check_device: bool = True,
                 check_paths: bool = True) -> Any:
    """Checks that need neither the model nor the data (``check_*`` off: validate a recipe elsewhere). Returns the
    paradigm (built once per run: the run uses this one)."""
    problems = []
    paradigm = None
    if not model_args.model_name_or_path:
        problems.append("model_name_or_path is not set")
    if check_paths:  # a missing local model, an output_dir that is a file or cannot be created
        problems += check_model_and_output(model_args, args)
    if bool(script.traces) == bool(script.dataset_dir):
        problems.append("give exactly one of traces (JSONL) or dataset_dir (rows + completion_column)")
    elif check_paths and script.traces and not Path(script.traces).is_file():
        problems.append(f"traces file not found: {script.traces}")
    elif check_paths and script.dataset_dir and not Path(script.dataset_dir).is_dir():
        problems.append(f"dataset_dir {script.dataset_dir} is not a folder")
    try:
        paradigm = paradigm_from_script(script)
    except RankrlError as err:
        problems.append(str(err))
    from rankrl.rl.resume import check_policy

    problems += check_policy(script.resume_policy)
    if script.max_prompt_tokens and args.max_length and script.max_prompt_tokens >= args.max_length:
        problems.append(
            f"max_prompt_tokens ({script.max_prompt_tokens}) leaves no room for the completion within max_length "
            f"({args.max_length}); SFTTrainer cuts sequences at max_length"
        )
    from rankrl.rl.config import _check_device, _check_report_to

    if check_device:
        problems += _check_device(args) + _check_report_to(args)
    if problems:
        raise ConfigError("invalid SFT configuration:\n  - " + "\n  - ".join(problems))
    return paradigm


# ----------------------------------------------------------------------------------------------- data


def _passage_texts(value: Any, path: str, line: int) -> list[str]:
    if not isinstance(value, list) or not value:
        raise DataFormatError(path, line, "'passages' must be a non-empty list of strings or {text, title} objects")
    texts = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            title = item.get("title") or ""
            texts.append(f"{title}: {item['text']}" if title else item["text"])
        else:
            raise DataFormatError(path, line, f"passages[{i}] must be a string or an object with a 'text' string")
    return texts


def read_traces(path: str | Path) -> list[tuple[int, str, list[str], str]]:
    """``(line, query, passages, completion)`` for every record of a traces JSONL file (validated)."""
    from rankrl.data.jsonl import iter_jsonl

    out = []
    for line, record in iter_jsonl(path):
        query, completion = record.get("query"), record.get("completion")
        if not isinstance(query, str) or not query.strip():
            raise DataFormatError(path, line, "field 'query' is missing or empty")
        if not isinstance(completion, str) or not completion.strip():
            raise DataFormatError(path, line, "field 'completion' is missing or empty")
        out.append((line, query, _passage_texts(record.get("passages"), str(path), line), completion))
    return out


def build_sft_dataset(
    script: Any, paradigm: Any, tokenizer: Any, max_length: int | None = None
) -> tuple[Any, dict[str, Any]]:
    """Prompt/completion conversational examples, prompts fitted to the budget, unparsable traces counted, and
    how many whole examples exceed ``max_length`` (SFTTrainer would cut their completions)."""
    import datasets

    from rankrl.prompts import fit_messages

    examples: list[dict[str, Any]] = []
    stats = {"read": 0, "dropped_unparsable": 0, "truncated": 0, "over_max_length": 0}
    if script.traces:
        items = [(q, p, c) for _, q, p, c in read_traces(script.traces)]
        pairs = []
        for query, passages, completion in items:
            fit = fit_messages(paradigm, query, passages, tokenizer=tokenizer,
                               max_prompt_tokens=script.max_prompt_tokens,
                               max_passage_tokens=script.max_passage_tokens,
                               max_passage_chars=script.max_passage_chars)
            stats["truncated"] += int(bool(fit.truncated))
            pairs.append((fit.messages, len(passages), completion))
        source = {"traces": str(script.traces)}
    else:
        from rankrl.data.rows import load_rows

        rows = load_rows(script.dataset_dir)
        if script.completion_column not in rows.column_names:
            raise ConfigError(
                f"dataset_dir {script.dataset_dir} has no column {script.completion_column!r} "
                f"(columns: {', '.join(rows.column_names)})"
            )
        pairs = [(r["prompt"], len(r["docids"]), r[script.completion_column]) for r in rows]
        source = {"dataset_dir": str(script.dataset_dir), "completion_column": script.completion_column}
    for messages, num_passages, completion in pairs:
        stats["read"] += 1
        parsed = paradigm.parse(completion, num_passages)
        if script.drop_unparsable and not (parsed.ok and parsed.format_ok):
            stats["dropped_unparsable"] += 1
            continue
        examples.append({
            "prompt": [{"role": m["role"], "content": m["content"]} for m in messages],
            "completion": [{"role": "assistant", "content": completion}],
        })
    if script.max_train_rows is not None:
        examples = examples[: script.max_train_rows]
    if not examples:
        raise RankrlError(f"no usable SFT traces ({stats['read']} read, {stats['dropped_unparsable']} unparsable)")
    stats["over_max_length"] = _count_over(examples, tokenizer, max_length) if max_length else 0
    stats["used"] = len(examples)
    stats["source"] = source
    return datasets.Dataset.from_list(examples), stats


def _count_over(examples: list[dict[str, Any]], tokenizer: Any, max_length: int) -> int:
    over = 0
    for ex in examples:
        ids = tokenizer.apply_chat_template(ex["prompt"] + ex["completion"], tokenize=True, return_dict=False)
        over += len(ids) > max_length
    return over


# ----------------------------------------------------------------------------------------------- trainer


def sft_metadata(paradigm: Any, script: Any, args: Any, model_args: Any, stats: dict[str, Any]) -> dict[str, Any]:
    return {
        **paradigm.metadata(),
        "data": stats,
        "base_model": model_args.model_name_or_path,
        "adapter": bool(model_args.use_peft),
        "lora": ({"r": model_args.lora_r, "alpha": model_args.lora_alpha,
                  "target_modules": model_args.lora_target_modules} if model_args.use_peft else None),
        "training": {"trainer": "SFT", "learning_rate": args.learning_rate, "max_length": args.max_length,
                     "completion_only_loss": args.completion_only_loss},
        "versions": {p: _version(p) for p in ("rankrl", "trl", "transformers", "torch", "peft")},
    }


def make_sft_trainer(args: Any, model_args: Any, tokenizer: Any, dataset: Any, meta: dict[str, Any]) -> Any:
    from trl import SFTTrainer, get_peft_config, get_quantization_config

    from rankrl.rl.checkpoint import MetadataCallback

    args.model_init_kwargs = {
        "revision": model_args.model_revision,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
        **(args.model_init_kwargs or {}),
    }
    quantization = get_quantization_config(model_args)
    if quantization is not None:
        args.model_init_kwargs["quantization_config"] = quantization
    from rankrl.rl.curves import make_callback
    from rankrl.rl.logging_callback import install_compact_logging
    from rankrl.rl.tied_weights import QuietTiedWeightsMixin

    class RankrlSFTTrainer(QuietTiedWeightsMixin, SFTTrainer):  # no false "missing lm_head" warning on resume
        pass

    trainer = RankrlSFTTrainer(
        model=model_args.model_name_or_path,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=[MetadataCallback(meta), make_callback(title=Path(args.output_dir).name)],
    )
    install_compact_logging(trainer)  # one line per logging step (rl/logging_callback.py)
    return trainer


def _say(message: str) -> None:
    if os.environ.get("RANK", "0") == "0":
        print(f"rankrl sft: {message}", file=sys.stderr, flush=True)
