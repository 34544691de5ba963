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
    """Rows from ``script.data_source`` through ``data.sources.build_rows`` (the one source dispatch, shared with
    ``rankrl data build``)."""
    from rankrl.data.sources import build_rows

    result = build_rows(script, tokenizer=tokenizer, show_progress=show_progress, as_dataset=True,
                        check_paths=False, paradigm=paradigm)  # checked by rl.config.validate
    if not result.stats["rows"]:
        skipped = ", ".join(f"{k}: {v}" for k, v in result.stats.get("skipped", {}).items())
        raise RankrlError(f"data_source {script.data_source!r} gave no training rows (skipped: {skipped or 'none'})")
    source: dict[str, Any] = {"data_source": script.data_source}
    info = dict(result.stats.get("source") or {})
    source.update({k: v for k, v in (info.get("provenance") or {}).items()} if script.kind == "synthetic" else
                  {k: v for k, v in info.items() if k not in ("data_source", "provenance")})
    if script.kind == "benchmark":
        source = {"data_source": script.data_source, "benchmark": info.get("name"),
                  "benchmark_dir": script.benchmark_dir}
    source.update({
        "group_size": script.group_size, "top_n": script.top_n, "groups_per_query": script.groups_per_query,
        "rows_seed": script.rows_seed,
    })
    dataset = result.dataset
    if paradigm.one_passage_per_prompt:
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
        if found != [paradigm.name]:
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
    if script.max_prompt_tokens is not None:
        # Rows are rendered already: an over-budget prompt can no longer be cut, and dropping it silently would
        # train on a different data set than the one built (28 of 42 rows went that way). Refuse instead.
        from rankrl.rl.prompt_budget import check_rows_fit

        check_rows_fit(dataset, script.dataset_dir, script.max_prompt_tokens, built_meta,
                       lambda prompt: count_prompt_tokens(tokenizer, prompt))
        # rankrl.json (and so eval) records the budget the prompts were actually held to
        meta = paradigm.metadata()
        meta["truncation"] = {**(meta.get("truncation") or {}),
                              "max_prompt_tokens": _held_to(built_meta, script.max_prompt_tokens)}
        paradigm = paradigm_from_metadata({**meta, "paradigm": paradigm.name})
    summary = _summary(stats)
    summary["dropped_over_budget"] = 0
    source = {"dataset_dir": str(script.dataset_dir), "build": info.get("command")}
    return TrainRows(dataset, paradigm, source, summary)


def _held_to(built_meta: dict[str, Any] | None, max_prompt_tokens: int) -> int:
    """The prompt budget rows were held to: the smaller of the build's budget and the training one."""
    built = ((built_meta or {}).get("truncation") or {}).get("max_prompt_tokens")
    return min(built, max_prompt_tokens) if isinstance(built, int) else max_prompt_tokens


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
