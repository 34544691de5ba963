"""Training rows for ``rankrl train``: load a built dataset, or build rows at start-up from a data source.

Prompts are fitted to ``max_prompt_tokens`` with the *model's* tokenizer (``prompts.fit_messages`` through
``data.rows``): TRL 1.16 has no ``max_prompt_length``, so an over-long prompt would otherwise reach the model
whole. How often passages had to be truncated is reported and stored in ``rankrl.json``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankrl.core.errors import ConfigError, RankrlError


@dataclass
class TrainRows:
    """The dataset GRPOTrainer gets, the paradigm its prompts were rendered with, and how it was made."""

    dataset: Any
    paradigm: Any
    source: dict[str, Any]
    stats: dict[str, Any] = field(default_factory=dict)


def build_train_rows(script: Any, paradigm: Any, tokenizer: Any, *, show_progress: bool = True) -> TrainRows:
    """Rows from ``script.dataset_dir`` or ``script.data_source`` (see ``rl.config.ScriptArguments``)."""
    if script.dataset_dir:
        rows = _load_built(script, paradigm, tokenizer)
    else:
        rows = _build(script, paradigm, tokenizer, show_progress)
    if script.max_train_rows is not None and len(rows.dataset) > script.max_train_rows:
        rows.dataset = rows.dataset.select(range(script.max_train_rows))
        rows.stats["rows_used"] = script.max_train_rows
    rows.stats.setdefault("rows_used", len(rows.dataset))
    if len(rows.dataset) == 0:
        raise RankrlError("no training rows: the data source produced none (see the build statistics)")
    return rows


def _build(script: Any, paradigm: Any, tokenizer: Any, show_progress: bool) -> TrainRows:
    from rankrl.data import rows as rows_mod

    kind, _, value = script.data_source.partition(":")
    common: dict[str, Any] = {
        "group_size": script.group_size,
        "top_n": script.top_n,
        "groups_per_query": script.groups_per_query,
        "seed": script.rows_seed,
        "tokenizer": tokenizer,
        "max_prompt_tokens": script.max_prompt_tokens,
        "max_passage_tokens": script.max_passage_tokens,
        "max_passage_chars": script.max_passage_chars,
        "template": script.template,
        "paradigm_options": {"think_prefilled": script.think_prefilled, "answer_fallback": script.answer_fallback},
        "show_progress": show_progress,
        "as_dataset": True,
    }
    extra = {"require_negative": not script.allow_no_negative, "rel_threshold": script.rel_threshold}
    source: dict[str, Any] = {"data_source": script.data_source}
    if kind == "synthetic":
        from rankrl.data.synthetic import synthetic_benchmark

        benchmark = synthetic_benchmark(
            script.synthetic_queries, script.group_size, script.rows_seed, "train",
            task=script.synthetic_task, passage_words=script.synthetic_passage_words,
        )
        source.update(benchmark.provenance)
        result = rows_mod.rows_from_benchmark(benchmark, script.paradigm, **extra, **common)
    elif kind == "benchmark":
        from rankrl.data.benchmarks import load_benchmark

        benchmark = load_benchmark(value, data_dir=script.benchmark_dir)
        source.update({"benchmark": benchmark.name, "benchmark_dir": script.benchmark_dir})
        result = rows_mod.rows_from_benchmark(benchmark, script.paradigm, **extra, **common)
    elif kind == "rankgpt":
        source.update({"candidates": value, "qrels": script.rankgpt_qrels})
        result = rows_mod.rows_from_rankgpt(value, script.rankgpt_qrels, script.paradigm, **extra, **common)
    elif kind == "tevatron":
        examples: Any = Path(value)
        if value == "hf":
            from rankrl.data.tevatron import HF_DATASET, HF_REVISION, iter_tevatron_hf

            name = script.tevatron_hf_dataset or HF_DATASET
            revision = script.tevatron_hf_revision or HF_REVISION
            examples = iter_tevatron_hf(name, "train", revision)
            source.update({"hf_dataset": name, "hf_revision": revision})
        result = rows_mod.rows_from_tevatron(
            examples, script.paradigm, positives_per_group=script.positives_per_group, limit=script.source_limit,
            **common,
        )
    else:  # validated earlier; kept for a clear message if called directly
        raise ConfigError(f"unknown data_source {script.data_source!r}")
    if not result.stats["rows"]:
        skipped = ", ".join(f"{k}: {v}" for k, v in result.stats.get("skipped", {}).items())
        raise RankrlError(f"data_source {script.data_source!r} gave no training rows (skipped: {skipped or 'none'})")
    source.update({
        "group_size": script.group_size, "top_n": script.top_n, "groups_per_query": script.groups_per_query,
        "rows_seed": script.rows_seed,
    })
    dataset = result.dataset
    if script.paradigm == "pointwise":
        dataset = _shuffle_groups(dataset, script.rows_seed)
    return TrainRows(dataset, paradigm, source, _summary(result.stats))


def _load_built(script: Any, paradigm: Any, tokenizer: Any) -> TrainRows:
    """A dataset from ``rankrl data build``: its paradigm and template must match; over-budget prompts are
    dropped (and counted), since their passages can no longer be truncated."""
    from rankrl.data.rows import BUILD_INFO, load_rows
    from rankrl.prompts import count_prompt_tokens, paradigm_from_metadata

    dataset = load_rows(script.dataset_dir)
    info_path = Path(script.dataset_dir) / BUILD_INFO
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
    stats = dict(info.get("stats") or {})
    if "paradigm" in dataset.column_names:
        found = sorted(set(dataset.unique("paradigm")))
        if found != [script.paradigm]:
            raise ConfigError(
                f"dataset_dir {script.dataset_dir} holds {', '.join(found)} rows but paradigm is "
                f"{script.paradigm!r}: rebuild the rows or set paradigm: {found[0]}"
            )
    built_meta = stats.get("paradigm") if isinstance(stats.get("paradigm"), dict) else None
    if built_meta:
        built = paradigm_from_metadata({**built_meta, "paradigm": script.paradigm})
        if script.template and built.template_name != paradigm.template_name:
            raise ConfigError(
                f"dataset_dir {script.dataset_dir} was rendered with template {built.template_name!r} but the "
                f"recipe asks for {paradigm.template_name!r}: rebuild with --template or drop `template`"
            )
        paradigm = built  # the prompts were rendered with it: that is what the checkpoint must record
    dropped = 0
    if script.max_prompt_tokens is not None:
        def fits(batch: dict[str, list]) -> list[bool]:
            return [count_prompt_tokens(tokenizer, p) <= script.max_prompt_tokens for p in batch["prompt"]]

        before = len(dataset)
        dataset = dataset.filter(fits, batched=True, desc="checking prompt lengths")
        dropped = before - len(dataset)
    summary = _summary(stats)
    summary["dropped_over_budget"] = dropped
    source = {"dataset_dir": str(script.dataset_dir), "build": info.get("command")}
    return TrainRows(dataset, paradigm, source, summary)


def _summary(stats: dict[str, Any]) -> dict[str, Any]:
    keys = ("queries", "queries_used", "groups", "rows", "truncated_rows", "truncation_rate",
            "degenerate_group_fraction", "prompt_length", "skipped")
    return {k: stats[k] for k in keys if k in stats}


def _shuffle_groups(dataset: Any, seed: int) -> Any:
    """Pointwise rows: shuffle whole groups, keeping each group's rows together (see ``GroupedSampler``)."""
    groups: dict[str, list[int]] = {}
    for i, g in enumerate(dataset["group"]):
        groups.setdefault(g, []).append(i)
    order = list(groups)
    random.Random(f"rankrl-train-groups:{seed}").shuffle(order)
    return dataset.select([i for g in order for i in groups[g]])
