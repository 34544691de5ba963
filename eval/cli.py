"""``rankrl eval``: rerank a benchmark with a checkpoint and score it.

Everything is checked before the output folder is created: flags, the checkpoint's paradigm (``rankrl.json``, or
``--paradigm``/``--template``), that the strategy fits it, every benchmark (loaded and validated, passages present)
and the backend (the model is loaded). Completions go to a cache in ``--out`` as they are generated: rerunning the
same command after an interruption generates only what is missing and writes the identical run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rankrl.core.errors import ConfigError, RankrlError
from rankrl.core.fields import fields_as_flags, flag_names, from_namespace
from rankrl.eval.config import EvalConfig, field_default, field_help
from rankrl.eval.fusion import FUSIONS, MERGES
from rankrl.prompts import PARADIGMS

CHART_FILE = "ndcg10_by_benchmark.png"


class _Help(argparse.HelpFormatter):
    """Shows a flag's default when it has one and its help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _arg(group: Any, flag: str, dest: str | None = None, **kwargs: Any) -> None:
    """A flag whose default and help come from its ``EvalConfig`` field (``dest``: the field, when it is not the
    flag's name with underscores)."""
    dest = dest or flag.lstrip("-").replace("-", "_")
    kwargs.setdefault("help", field_help(dest))
    if kwargs.get("action") != "store_true" and not kwargs.get("required"):
        kwargs.setdefault("default", field_default(dest))
    if dest != flag.lstrip("-").replace("-", "_"):
        kwargs["dest"] = dest
    group.add_argument(flag, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rankrl eval", description=__doc__.split("\n\n")[0], formatter_class=_Help,
                                allow_abbrev=False)  # `--win 5` must not silently mean --window
    g = p.add_argument_group("what to evaluate")
    _arg(g, "--model", required=True)
    _arg(g, "--adapter")
    _arg(g, "--benchmark", required=True)
    _arg(g, "--data-dir")
    _arg(g, "--run", "first_stage_run")
    _arg(g, "--corpus")
    _arg(g, "--first-stage", choices=("run", "bm25", "bm25-reasoning"))
    _arg(g, "--qrels-variant", choices=("original", "fixed"))
    _arg(g, "--source")
    _arg(g, "--out", required=True)
    _arg(g, "--max-queries", type=int)
    _arg(g, "--top-k", type=int)
    _arg(g, "--depth", type=int)

    g = p.add_argument_group("paradigm and strategy")
    _arg(g, "--paradigm")
    _arg(g, "--template")
    _arg(g, "--strategy", choices=PARADIGMS)
    _arg(g, "--sort", choices=("heapsort", "bubblesort"))
    _arg(g, "--num-child", type=int)
    _arg(g, "--k", type=int)
    _arg(g, "--window", type=int)
    _arg(g, "--stride", type=int)
    _arg(g, "--passes", type=int)
    _arg(g, "--group-size", type=int)
    _arg(g, "--no-expected-score", action="store_true")
    _arg(g, "--logprobs", type=int)
    _arg(g, "--repeats", type=int)
    _arg(g, "--merge", choices=MERGES)
    _arg(g, "--fusion", choices=FUSIONS)
    _arg(g, "--fusion-weight", type=float)
    _arg(g, "--max-passage-tokens", type=int)
    _arg(g, "--max-passage-chars", type=int)
    _arg(g, "--max-prompt-tokens", type=int)

    g = p.add_argument_group("generation")
    _arg(g, "--backend", choices=("vllm", "hf"))
    _arg(g, "--temperature", type=float)
    _arg(g, "--top-p", type=float)
    _arg(g, "--seed", type=int)
    _arg(g, "--max-new-tokens", type=int)
    _arg(g, "--batch-size", type=int)
    _arg(g, "--device")
    _arg(g, "--dtype")
    _arg(g, "--tensor-parallel-size", type=int)
    _arg(g, "--max-model-len", type=int)
    _arg(g, "--gpu-memory-utilization", type=float)
    _arg(g, "--enforce-eager", action="store_true")
    _arg(g, "--chat-template-kwargs")

    g = p.add_argument_group("scoring and output")
    _arg(g, "--metrics")
    _arg(g, "--rel-level", type=int)
    _arg(g, "--no-progress", action="store_true")
    return p


def parse_config(argv: list[str]) -> tuple[EvalConfig, argparse.ArgumentParser]:
    """Flags -> ``EvalConfig`` (field by field, by name), checked; errors name the flag."""
    parser = build_parser()
    config = from_namespace(EvalConfig, parser.parse_args(argv))
    with fields_as_flags(flag_names(parser)):
        config.validate()
    return config, parser


# --- validation ------------------------------------------------------------------------------------------

def _positive(name: str, value: int | None, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if value is None or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value}")


def validate_numbers(args: Any) -> None:
    for name in ("max_queries", "depth", "batch_size", "max_model_len", "max_passage_tokens", "max_passage_chars",
                 "max_prompt_tokens"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    for name in ("top_k", "num_child", "k", "window", "passes", "group_size", "repeats", "max_new_tokens",
                 "tensor_parallel_size"):
        _positive("--" + name.replace("_", "-"), getattr(args, name), allow_none=False)
    if args.temperature < 0:
        raise ConfigError(f"--temperature must be >= 0, got {args.temperature}")
    if not 0 < args.top_p <= 1:
        raise ConfigError(f"--top-p must be in (0, 1], got {args.top_p}")
    if not 0 <= args.fusion_weight <= 1:
        raise ConfigError(f"--fusion-weight must be in [0, 1], got {args.fusion_weight}")
    if args.logprobs < 0:
        raise ConfigError(f"--logprobs must be >= 0, got {args.logprobs}")
    if not 0 < args.gpu_memory_utilization <= 1:
        raise ConfigError(f"--gpu-memory-utilization must be in (0, 1], got {args.gpu_memory_utilization}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    from rankrl.core.atomic import check_creatable

    check_creatable(out, "--out")  # now, not after the benchmarks and the model are loaded


def check_model_paths(args: argparse.Namespace) -> None:
    """A ``--model``/``--adapter`` that can only be a local path and is not there: say so at once (the Hub would be
    asked otherwise, with retries, or the error would blame a missing rankrl.json)."""
    from rankrl.core.model_path import check_model_path

    check_model_path(args.model, "--model")
    check_model_path(args.adapter, "--adapter")


def chat_template_kwargs(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--chat-template-kwargs is not valid JSON ({err})") from err
    if not isinstance(value, dict):
        raise ConfigError("--chat-template-kwargs must be a JSON object")
    return value


def _template_paradigm(template: str) -> str:
    """The paradigm a template file or shipped template name is written for."""
    from rankrl.prompts.template import TEMPLATE_DIR

    path = Path(template)
    if not path.is_file():
        path = TEMPLATE_DIR / f"{template}.json"
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["paradigm"])
    except (OSError, KeyError, json.JSONDecodeError) as err:
        raise RankrlError(f"template {template!r}: cannot tell its paradigm ({err}); pass --paradigm too") from err


def resolve_paradigm(args: argparse.Namespace) -> tuple[Any, str]:
    """The paradigm to prompt and parse with, and where it came from."""
    from rankrl import prompts
    from rankrl.core.metadata import read_metadata

    meta = None
    source_dir = None
    for candidate in (args.adapter, args.model):
        if candidate and Path(candidate).is_dir():
            meta = read_metadata(candidate)
            if meta is not None:
                source_dir = candidate
                break
    if args.paradigm or args.template:
        name = args.paradigm or (meta["paradigm"] if meta else _template_paradigm(args.template))
        if meta is not None and args.template is None and name == meta["paradigm"]:
            return prompts.paradigm_from_metadata(meta), f"{source_dir}/rankrl.json"
        return prompts.get_paradigm(name, template=args.template), "command-line flags"
    if meta is None:
        where = "" if Path(args.model).is_dir() else (
            f" ({args.model} is not a folder under {Path.cwd()}, so it is taken as a Hugging Face Hub model id; "
            f"if you meant a local checkpoint, check the path)")
        raise RankrlError(
            f"{args.model}: no rankrl.json, so the paradigm and prompt template are unknown (a checkpoint "
            f"trained elsewhere){where}; pass --paradigm NAME (setwise, listwise, pointwise, groupwise) and "
            f"optionally --template NAME|PATH")
    return prompts.paradigm_from_metadata(meta), f"{source_dir}/rankrl.json"


def benchmark_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    domain = name.split("/", 1)[1] if name.startswith("bright/") else name.replace("/", "-")
    options: dict[str, Any] = {"depth": args.depth or max(100, args.top_k)}
    for key, value in (("run", args.first_stage_run), ("corpus", args.corpus)):
        if value:
            options[key] = value.replace("{domain}", domain)
    if args.source and not name.startswith("local:"):
        options["source"] = args.source
    if name.startswith("bright/"):
        options["qrels"] = args.qrels_variant
        if args.first_stage:
            options["first_stage"] = args.first_stage
    return options


def load_benchmarks(args: argparse.Namespace) -> list[Any]:
    from rankrl.data.benchmarks import expand_benchmark_names, load_benchmark

    names: list[str] = []
    for part in args.benchmark.split(","):
        if part.strip():
            names.extend(expand_benchmark_names(part.strip()))
    if not names:
        raise ConfigError("--benchmark is empty")
    if len(set(names)) != len(names):
        raise ConfigError(f"--benchmark names a benchmark twice: {names}")
    return [load_benchmark(name, args.data_dir, **benchmark_options(name, args)) for name in names]


def describe_model_change(old_id: str | None, new_id: str) -> str:
    """Why cached completions of ``old_id`` do not fit ``new_id``, in words (weights changed at the same path, or
    another model)."""
    from rankrl.eval.backends.hf import split_model_id

    if old_id is None:
        return "they carry no weights fingerprint (written by an older rankrl), so they may be of other weights"
    old_parts, new_parts = old_id.removeprefix("hf:").split("+lora:"), new_id.removeprefix("hf:").split("+lora:")
    changes = []
    for old_part, new_part in zip(old_parts, new_parts):
        (old_where, old_fp), (new_where, new_fp) = split_model_id(old_part), split_model_id(new_part)
        if old_where == new_where and old_fp != new_fp:
            changes.append(f"the weights at {new_where} changed since they were generated (fingerprint "
                           f"{old_fp or 'none'} -> {new_fp or 'none'})")
    return "; ".join(changes) or f"they were generated by another model ({old_id})"


def slug(name: str) -> str:
    tail = name.split(":", 1)[1] if name.startswith("local:") else name
    tail = Path(tail).name if name.startswith("local:") else tail
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ("local-" if name.startswith("local:") else "") + tail).strip("-")


# --- main ------------------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    args, _parser = parse_config(argv)
    started = time.perf_counter()
    validate_numbers(args)
    check_model_paths(args)
    kwargs = chat_template_kwargs(args.chat_template_kwargs)

    from rankrl.eval.backends import build_backend
    from rankrl.eval.backends.base import Sampling
    from rankrl.eval.runner import RerankConfig, check_passages, select_queries
    from rankrl.eval.strategies import build_strategy, check_fit

    paradigm, paradigm_source = resolve_paradigm(args)
    strategy_name = args.strategy or paradigm.name
    check_fit(strategy_name, paradigm.name)
    score_max = float(getattr(paradigm, "score_max", None) or 10.0)
    strategy = build_strategy(strategy_name, sort=args.sort, num_child=args.num_child, k=args.k, window=args.window,
                              stride=args.stride, passes=args.passes, group_size=args.group_size,
                              expected_score=not args.no_expected_score, score_range=(0.0, score_max))
    merge = args.merge or ("mean-score" if strategy_name in ("pointwise", "groupwise") else "mean-rank")
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    from rankrl.eval.metrics import parse_metric

    for m in metrics:
        parse_metric(m)
    if "nDCG@10" not in metrics:
        metrics = ("nDCG@10", *metrics)
    config = RerankConfig(top_k=args.top_k, repeats=args.repeats, merge=merge, fusion=args.fusion,
                          fusion_weight=args.fusion_weight, seed=args.seed, max_queries=args.max_queries,
                          metrics=metrics, rel_level=args.rel_level)
    config.validate()
    use_logprobs = strategy_name == "pointwise" and not args.no_expected_score
    sampling = Sampling(temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                        seed=args.seed, logprobs=args.logprobs if use_logprobs else 0)

    benchmarks = load_benchmarks(args)
    for b in benchmarks:
        check_passages(b, select_queries(b, args.max_queries), args.top_k)

    backend_options: dict[str, Any] = {"adapter": args.adapter, "dtype": args.dtype, "chat_template_kwargs": kwargs}
    if args.backend == "hf":
        backend_options.update(batch_size=args.batch_size or 8, device=args.device)
    else:
        backend_options.update(batch_size=args.batch_size or 4096, tensor_parallel_size=args.tensor_parallel_size,
                               max_model_len=args.max_model_len, seed=args.seed,
                               gpu_memory_utilization=args.gpu_memory_utilization, enforce_eager=args.enforce_eager)
    t0 = time.perf_counter()
    backend = build_backend(args.backend, args.model, **backend_options)
    load_seconds = time.perf_counter() - t0

    from rankrl.prompts import fit_messages

    budgets = {"max_prompt_tokens": args.max_prompt_tokens, "max_passage_tokens": args.max_passage_tokens,
               "max_passage_chars": args.max_passage_chars}
    needs_tokenizer = any(v is not None for v in (
        args.max_prompt_tokens if args.max_prompt_tokens is not None else paradigm.max_prompt_tokens,
        args.max_passage_tokens if args.max_passage_tokens is not None else paradigm.max_passage_tokens))
    tokenizer = backend.tokenizer if needs_tokenizer else None

    def fit(query: str, texts: Any) -> list[dict[str, str]]:
        return fit_messages(paradigm, query, texts, tokenizer=tokenizer, **budgets).messages

    settings = {
        "model": args.model, "adapter": args.adapter, "backend": args.backend,
        "backend_options": {k: v for k, v in backend_options.items() if k not in ("adapter",)},
        "model_id": backend.model_id, "model_load_seconds": round(load_seconds, 2),
        "paradigm": paradigm.name, "paradigm_source": paradigm_source,
        "template": f"{paradigm.template_name} v{paradigm.template_version}",
        "strategy": strategy_name, "strategy_settings": strategy.settings(),
        "prompt_budgets": {k: v if v is not None else getattr(paradigm, k, None) for k, v in budgets.items()},
        "sampling": asdict(sampling), "top_k": args.top_k, "repeats": args.repeats, "merge": merge,
        "fusion": {"method": args.fusion, "weight": args.fusion_weight,
                   "reranker_score": "mean model score" if merge == "mean-score" else "-mean rank"}
        if args.fusion != "none" else {"method": "none"},
        "seed": args.seed, "max_queries": args.max_queries, "benchmarks": [b.name for b in benchmarks],
        "data_dir": args.data_dir, "metrics": list(metrics),
        "provenance": {b.name: b.provenance for b in benchmarks},
        "command": "rankrl eval " + " ".join(argv),
    }
    run_evaluation(args, benchmarks, strategy, backend, paradigm, fit, sampling, config, settings, started)
    return 0


def run_evaluation(args: argparse.Namespace, benchmarks: list[Any], strategy: Any, backend: Any, paradigm: Any,
                   fit: Any, sampling: Any, config: Any, settings: dict[str, Any], started: float) -> None:
    from rankrl.data.trec import write_run
    from rankrl.eval.cache import CACHE_FILE, CompletionCache
    from rankrl.eval.report import (
        bar_chart,
        benchmark_metrics,
        combined_metrics,
        render_report,
        write_json,
        write_traces,
    )
    from rankrl.eval.runner import rerank_benchmark
    from rankrl.eval.traces_html import write_traces_html

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = CompletionCache(out / CACHE_FILE, model_id=backend.model_id)
    set_aside = cache.set_aside_other_models()
    for old_id, count in set_aside.items():
        print(f"rankrl eval: {count} cached completions in {out / CACHE_FILE} are not reused: "
              f"{describe_model_change(old_id, backend.model_id)}; they were moved to {cache.path.name}.stale and "
              "are generated again", file=sys.stderr)
    if len(cache):
        print(f"rankrl eval: resuming with {len(cache)} cached completions from {out / CACHE_FILE}",
              file=sys.stderr)
    multi = len(benchmarks) > 1
    results = []
    for benchmark in benchmarks:
        folder = out / slug(benchmark.name) if multi else out
        if not args.no_progress:
            print(f"rankrl eval: {benchmark.name}", file=sys.stderr)
        result = rerank_benchmark(benchmark, strategy, backend, paradigm.parse, fit, sampling, config,
                                  cache=cache, progress=not args.no_progress)
        results.append(result)
        write_run(folder / "run.trec", result.run, tag=f"rankrl-{settings['strategy']}")
        write_json(folder / "metrics.json", benchmark_metrics(result, settings))
        write_traces(folder / "traces.jsonl", result.traces)
        write_traces_html(folder / "traces.html", benchmark, result.qids, result.run, result.traces,
                          title=f"{benchmark.name} — {settings['strategy']} — {args.model}",
                          per_query=result.evaluation.per_query, top_k=config.top_k)
        if multi:
            from rankrl.core.atomic import atomic_write_text

            atomic_write_text(folder / "report.md", render_report([result], settings,
                                                                  result.stats.wall_seconds))
    wall = time.perf_counter() - started
    chart = None
    from rankrl.core.atomic import atomic_write_text

    if multi:
        bar_chart(results, out / CHART_FILE)
        chart = CHART_FILE
        write_json(out / "metrics.json", combined_metrics(results, settings))
        from rankrl.eval.traces_html import render_index_html

        atomic_write_text(out / "traces.html", render_index_html(
            f"rankrl eval traces — {settings['strategy']} — {args.model}",
            [(r.name, f"{slug(r.name)}/traces.html", r.evaluation.mean["nDCG@10"], r.evaluation.num_queries)
             for r in results]))

    atomic_write_text(out / "report.md", render_report(results, settings, wall, chart=chart))
    headline = (sum(r.evaluation.mean["nDCG@10"] for r in results) / len(results))
    print(f"rankrl eval: nDCG@10 = {headline:.4f}" + (f" (mean of {len(results)} benchmarks)" if multi else "")
          + f"; outputs in {out}", file=sys.stderr)
    from rankrl.eval.report import describe_difference, vs_first_stage

    for r in results:  # paired difference against the first stage, per benchmark
        diffs = vs_first_stage(r)
        if diffs and "nDCG@10" in diffs:
            print(f"rankrl eval: {r.name + ' ' if multi else ''}nDCG@10 vs first stage "
                  f"{describe_difference(diffs['nDCG@10'])}", file=sys.stderr)
