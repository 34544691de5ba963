"""``evaluate(config)``: rerank benchmarks with a checkpoint and score them — the library under ``rankrl eval``.

Everything is checked before any generation: the options, the checkpoint's paradigm (``rankrl.json``, or
``paradigm``/``template``), that the strategy fits it, every benchmark (loaded, passages present) and the backend
(the model is loaded). With ``config.out`` set, completions go to a cache in that folder as they are generated
(rerunning after an interruption generates only what is missing and writes the identical run) and the run,
metrics, traces and report are written there; with ``out=None`` nothing is written and the result is returned.

Errors speak in ``EvalConfig`` field names (``FieldError``); ``rankrl eval`` translates them to flags.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.core.fields import FieldError
from rankrl.eval.config import EvalConfig

CHART_FILE = "ndcg10_by_benchmark.png"
HEADLINE = "nDCG@10"


@dataclass
class EvalResult:
    """What ``evaluate`` returns: one ``BenchmarkResult`` per benchmark (run, per-query metrics, cost, traces)
    plus the settings that produced them. The properties summarise over benchmarks."""

    config: EvalConfig
    benchmarks: list[Any]
    """``eval.runner.BenchmarkResult`` per benchmark, in the order asked."""
    settings: dict[str, Any]
    wall_seconds: float
    out: Path | None = None
    paradigm: Any = field(default=None, repr=False)

    def _one(self) -> Any:
        if len(self.benchmarks) != 1:
            raise RankrlError(f"this result holds {len(self.benchmarks)} benchmarks; use .benchmarks or .runs")
        return self.benchmarks[0]

    @property
    def run(self) -> dict[str, list[tuple[str, float]]]:
        """The reranked run of the (single) benchmark: qid -> [(docid, score)] best first."""
        return self._one().run

    @property
    def runs(self) -> dict[str, dict[str, list[tuple[str, float]]]]:
        return {b.name: b.run for b in self.benchmarks}

    @property
    def mean(self) -> dict[str, float]:
        """Each metric's mean over queries; with several benchmarks, the plain mean of their means (BRIGHT)."""
        names = list(self.benchmarks[0].evaluation.mean)
        return {m: sum(b.evaluation.mean[m] for b in self.benchmarks) / len(self.benchmarks) for m in names}

    @property
    def ndcg10(self) -> float:
        return self.mean[HEADLINE]

    @property
    def per_query(self) -> dict[str, dict[str, float]]:
        """qid -> metric -> value of the (single) benchmark."""
        return self._one().evaluation.per_query

    @property
    def first_stage_mean(self) -> dict[str, float] | None:
        first = [b.first_stage_evaluation for b in self.benchmarks]
        if any(f is None for f in first):
            return None
        return {m: sum(f.mean[m] for f in first) / len(first) for m in first[0].mean}  # type: ignore[union-attr]

    @property
    def llm_calls(self) -> int:
        """Prompts answered (generated, cached or shared) over all benchmarks."""
        return sum(b.stats.prompts for b in self.benchmarks)

    @property
    def generated(self) -> int:
        return sum(b.stats.generated for b in self.benchmarks)

    @property
    def prompt_tokens(self) -> int:
        return sum(b.stats.prompt_tokens for b in self.benchmarks)

    @property
    def completion_tokens(self) -> int:
        return sum(b.stats.completion_tokens for b in self.benchmarks)

    @property
    def unparsed(self) -> int:
        """Completions whose answer could not be read (the strategy fell back for them)."""
        return sum(b.stats.parse_failures for b in self.benchmarks)

    @property
    def traces(self) -> list[dict[str, Any]]:
        """Every prompt/completion/parse record, in order (each names its qid)."""
        return [t for b in self.benchmarks for t in b.traces]

    def cost(self) -> dict[str, dict[str, Any]]:
        """Per benchmark: LLM calls, tokens, parse failures, time, and the same per query."""
        from rankrl.eval.report import cost_summary

        return {b.name: cost_summary(b) for b in self.benchmarks}


@dataclass
class _Plan:
    """Everything checked and loaded, ready to generate."""

    config: EvalConfig
    paradigm: Any
    strategy: Any
    rerank: Any
    sampling: Any
    benchmarks: list[Any]
    backend: Any
    fit: Any
    settings: dict[str, Any]


# --- checks ----------------------------------------------------------------------------------------------

def check_model_paths(config: EvalConfig) -> None:
    """A ``model``/``adapter`` that can only be a local path and is not there: say so at once (the Hub would be
    asked otherwise, with retries, or the error would blame a missing rankrl.json)."""
    from rankrl.core.model_path import missing_local_model

    for name in ("model", "adapter"):
        value = getattr(config, name)
        if value is not None and missing_local_model(value):
            raise FieldError(name, template=f"model folder not found: {value} ({{field}})")


def _template_paradigm(template: str) -> str:
    """The paradigm a template file or shipped template name is written for."""
    from rankrl.prompts.template import read_template

    try:
        return read_template(template).paradigm
    except RankrlError as err:
        raise FieldError("template", str(err)) from err


def resolve_paradigm(config: EvalConfig) -> tuple[Any, str]:
    """The paradigm to prompt and parse with (built once per run), and where it came from."""
    from rankrl import prompts
    from rankrl.core.metadata import read_metadata

    meta = None
    source_dir = None
    for candidate in (config.adapter, config.model):
        if candidate and Path(candidate).is_dir():
            meta = read_metadata(candidate)
            if meta is not None:
                source_dir = candidate
                break
    if config.paradigm or config.template:
        name = config.paradigm or (meta["paradigm"] if meta else _template_paradigm(str(config.template)))
        if meta is not None and config.template is None and name == meta["paradigm"]:
            return prompts.paradigm_from_metadata(meta), f"{source_dir}/rankrl.json"
        return prompts.get_paradigm(name, template=config.template), "command-line flags"
    if meta is None:
        where = "" if Path(config.model).is_dir() else (
            f" ({config.model} is not a folder under {Path.cwd()}, so it is taken as a Hugging Face Hub model id; "
            f"if you meant a local checkpoint, check the path)")
        raise FieldError(
            "paradigm",
            f"is needed: {config.model} has no rankrl.json, so the paradigm and prompt template are unknown (a "
            f"checkpoint trained elsewhere){where}; set it to one of {', '.join(prompts.PARADIGMS)}, and optionally "
            f"template=NAME|PATH")
    return prompts.paradigm_from_metadata(meta), f"{source_dir}/rankrl.json"


def benchmark_options(name: str, config: EvalConfig) -> Any:
    """The typed loading options of benchmark ``name`` (``{domain}`` in paths filled in)."""
    from rankrl.data.benchmarks import BenchmarkOptions

    domain = name.split("/", 1)[1] if name.startswith("bright/") else name.replace("/", "-")
    options: dict[str, Any] = {"depth": config.depth or max(100, config.top_k)}
    for key, value in (("run", config.first_stage_run), ("corpus", config.corpus)):
        if value:
            options[key] = value.replace("{domain}", domain)
    if config.source and not name.startswith("local:"):
        options["source"] = config.source
    if name.startswith("bright/"):
        options["qrels"] = config.qrels_variant
        if config.first_stage:
            options["first_stage"] = config.first_stage
    return BenchmarkOptions(**options)


def load_benchmarks(config: EvalConfig) -> list[Any]:
    from rankrl.data.benchmarks import expand_benchmark_names, load_benchmark

    names: list[str] = []
    for part in config.benchmark_names():
        names.extend(expand_benchmark_names(part))
    if not names:
        raise FieldError("benchmark", "is empty")
    if len(set(names)) != len(names):
        raise FieldError("benchmark", f"names a benchmark twice: {names}")
    from dataclasses import replace

    from rankrl.eval.protocol import load_deep_enough

    out = []
    for name in names:  # read deep enough that top_k candidates remain once excluded ids are removed (BRIGHT)
        options = benchmark_options(name, config)
        out.append(load_deep_enough(lambda depth, n=name, o=options: load_benchmark(
            n, config.data_dir, replace(o, depth=depth)), options.depth, config.top_k))
    return out


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


# --- plan ------------------------------------------------------------------------------------------------

def prepare(config: EvalConfig, *, backend: Any = None, command: str | None = None) -> _Plan:
    """Check everything and load the benchmarks and the backend; nothing is generated or written."""
    from rankrl.core.atomic import check_creatable
    from rankrl.eval.backends import BackendOptions, build_backend
    from rankrl.eval.metrics import parse_metric
    from rankrl.eval.runner import RerankConfig, check_passages, select_queries
    from rankrl.eval.strategies import StrategyOptions, build_strategy, check_fit

    config.validate()
    if config.out is not None:
        try:
            check_creatable(config.out, "out")  # now, not after the benchmarks and the model are loaded
        except RankrlError as err:
            raise FieldError("out", str(err).removeprefix("out ")) from err
    if backend is None:
        check_model_paths(config)
    paradigm, paradigm_source = resolve_paradigm(config)
    from rankrl.eval.protocol import (
        budgets_for,
        needs_tokenizer,
        sampling_for,
        scoring_of,
        with_template_defaults,
    )

    config, template_defaults = with_template_defaults(config, paradigm.template)  # flags win over a preset's
    config.validate()
    scoring = scoring_of(config, paradigm.template)
    strategy_name = config.strategy or paradigm.default_strategy
    check_fit(strategy_name, paradigm.name)
    score_max = float(paradigm.score_max or 10.0)
    strategy = build_strategy(strategy_name, StrategyOptions(
        sort=config.sort, num_child=config.num_child, k=config.k, window=config.window, stride=config.stride,
        passes=config.passes, group_size=config.group_size, expected_score=not config.no_expected_score,
        score_range=(0.0, score_max), shuffle_comparisons=bool(config.shuffle_comparisons),
        permutations=config.permutations, seed=config.seed, scoring=scoring))
    merge = config.merge or paradigm.default_merge
    metrics = config.metric_names()
    for m in metrics:
        parse_metric(m)
    rerank = RerankConfig(top_k=config.top_k, repeats=config.repeats, merge=merge, fusion=config.fusion,
                          fusion_weight=config.fusion_weight, seed=config.seed, max_queries=config.max_queries,
                          metrics=metrics, rel_level=config.rel_level)
    rerank.validate()
    sampling = sampling_for(config, paradigm.template, strategy)

    benchmarks = load_benchmarks(config)
    for b in benchmarks:
        check_passages(b, select_queries(b, config.max_queries), config.top_k)

    backend_options = BackendOptions(
        adapter=config.adapter, batch_size=config.batch_size, device=config.device, dtype=config.dtype,
        chat_template_kwargs=config.template_kwargs(), tensor_parallel_size=config.tensor_parallel_size,
        max_model_len=config.max_model_len, gpu_memory_utilization=config.gpu_memory_utilization,
        enforce_eager=config.enforce_eager, seed=config.seed)
    if config.no_progress:  # transformers' loading bar too (eval/progress.py)
        from rankrl.eval.progress import silence_library_bars

        silence_library_bars()
    t0 = time.perf_counter()
    if backend is None:
        backend = build_backend(config.backend, config.model, backend_options)
    load_seconds = time.perf_counter() - t0

    from rankrl.prompts import fit_messages

    budgets = budgets_for(config, paradigm)
    from rankrl.eval.context import fit_budgets_to_context  # no budget: the model's context (eval/context.py)

    budgets = fit_budgets_to_context(budgets, paradigm, backend, config.max_new_tokens,
                                     lambda message: print(f"rankrl eval: {message}", file=sys.stderr))
    tokenizer = getattr(backend, "tokenizer", None) if needs_tokenizer(budgets, paradigm) else None

    def fit(query: str, texts: Any) -> list[dict[str, str]]:
        return fit_messages(paradigm, query, texts, tokenizer=tokenizer, **budgets).messages

    options = backend_options.for_backend(config.backend)
    settings = {
        "model": config.model, "adapter": config.adapter, "backend": config.backend,
        "backend_options": {k: v for k, v in options.items() if k != "adapter"},
        "model_id": backend.model_id, "model_load_seconds": round(load_seconds, 2),
        "paradigm": paradigm.name, "paradigm_source": paradigm_source,
        "template": f"{paradigm.template_name} v{paradigm.template_version}",
        "template_source": paradigm.template.source.citation() or "rankrl",
        "template_defaults_applied": template_defaults, "scoring": scoring,
        "strategy": strategy_name, "strategy_settings": strategy.settings(),
        "prompt_budgets": {k: v if v is not None else getattr(paradigm, k, None) for k, v in budgets.items()},
        "sampling": asdict(sampling), "top_k": config.top_k, "repeats": config.repeats, "merge": merge,
        "fusion": {"method": config.fusion, "weight": config.fusion_weight,
                   "reranker_score": "mean model score" if merge == "mean-score" else "-mean rank"}
        if config.fusion != "none" else {"method": "none"},
        "seed": config.seed, "max_queries": config.max_queries, "benchmarks": [b.name for b in benchmarks],
        "data_dir": config.data_dir, "metrics": list(metrics),
        "provenance": {b.name: b.provenance for b in benchmarks},
        "command": command or "rankrl.eval.evaluate",
    }
    return _Plan(config, paradigm, strategy, rerank, sampling, benchmarks, backend, fit, settings)


# --- run -------------------------------------------------------------------------------------------------

def evaluate(config: EvalConfig, *, backend: Any = None, command: str | None = None) -> EvalResult:
    """Rerank and score ``config.benchmark`` with ``config.model``; see the module docstring.

    ``backend``: an already built backend (e.g. ``eval.backends.oracle.OracleBackend``, or one model shared by
    several evaluations); ``config.backend``/``config.model`` then only label the settings. ``command``: what to
    record as the command in ``metrics.json`` (the CLI passes its argv)."""
    started = time.perf_counter()
    plan = prepare(config, backend=backend, command=command)
    return run_plan(plan, started)


def run_plan(plan: _Plan, started: float) -> EvalResult:
    config = plan.config
    if config.out is None:
        return _run(plan, started, None)
    from rankrl.core.lock import folder_lock

    out = Path(config.out)
    with folder_lock(out, plan.settings["command"]):  # one writer per output folder (a second one stops at once)
        return _run(plan, started, out)


def _run(plan: _Plan, started: float, out: Path | None) -> EvalResult:
    from rankrl.eval.runner import rerank_benchmark

    config = plan.config
    progress = not config.no_progress
    cache = _open_cache(out, plan.backend.model_id) if out is not None else None
    multi = len(plan.benchmarks) > 1
    results = []
    for benchmark in plan.benchmarks:
        if progress:
            print(f"rankrl eval: {benchmark.name}", file=sys.stderr)
        result = rerank_benchmark(benchmark, plan.strategy, plan.backend, plan.paradigm.parse, plan.fit,
                                  plan.sampling, plan.rerank, cache=cache, progress=progress)
        results.append(result)
        from rankrl.eval.protocol import warn_unparsed

        warn_unparsed(result, config.warn_unparsed)
        if out is not None:
            _write_benchmark(out / slug(benchmark.name) if multi else out, benchmark, result, plan, multi)
    evaluation = EvalResult(config, results, plan.settings, time.perf_counter() - started, out, plan.paradigm)
    if out is not None:
        _write_summary(out, evaluation, plan)
    return evaluation


def _open_cache(out: Path, model_id: str) -> Any:
    from rankrl.eval.cache import CACHE_FILE, CompletionCache

    out.mkdir(parents=True, exist_ok=True)
    cache = CompletionCache(out / CACHE_FILE, model_id=model_id)
    for old_id, count in cache.set_aside_other_models().items():
        print(f"rankrl eval: {count} cached completions in {out / CACHE_FILE} are not reused: "
              f"{describe_model_change(old_id, model_id)}; they were moved to {cache.path.name}.stale and "
              "are generated again", file=sys.stderr)
    if len(cache):
        print(f"rankrl eval: resuming with {len(cache)} cached completions from {out / CACHE_FILE}",
              file=sys.stderr)
    return cache


def _write_benchmark(folder: Path, benchmark: Any, result: Any, plan: _Plan, multi: bool) -> None:
    from rankrl.core.atomic import atomic_write_text
    from rankrl.data.trec import write_run
    from rankrl.eval.report import benchmark_metrics, render_report, write_json, write_traces
    from rankrl.eval.traces_html import write_traces_html

    settings = plan.settings
    write_run(folder / "run.trec", result.run, tag=f"rankrl-{settings['strategy']}")
    write_json(folder / "metrics.json", benchmark_metrics(result, settings))
    write_traces(folder / "traces.jsonl", result.traces)
    write_traces_html(folder / "traces.html", benchmark, result.qids, result.run, result.traces,
                      title=f"{benchmark.name} — {settings['strategy']} — {plan.config.model}",
                      per_query=result.evaluation.per_query, top_k=plan.rerank.top_k)
    if multi:
        atomic_write_text(folder / "report.md", render_report([result], settings, result.stats.wall_seconds))


def _write_summary(out: Path, evaluation: EvalResult, plan: _Plan) -> None:
    from rankrl.core.atomic import atomic_write_text
    from rankrl.eval.report import bar_chart, combined_metrics, render_report, write_json
    from rankrl.eval.traces_html import render_index_html

    results, settings = evaluation.benchmarks, plan.settings
    chart = None
    if len(results) > 1:
        bar_chart(results, out / CHART_FILE)
        chart = CHART_FILE
        write_json(out / "metrics.json", combined_metrics(results, settings))
        atomic_write_text(out / "traces.html", render_index_html(
            f"rankrl eval traces — {settings['strategy']} — {plan.config.model}",
            [(r.name, f"{slug(r.name)}/traces.html", r.evaluation.mean[HEADLINE], r.evaluation.num_queries)
             for r in results]))
    atomic_write_text(out / "report.md", render_report(results, settings, evaluation.wall_seconds, chart=chart))


__all__ = ["EvalConfig", "EvalResult", "evaluate", "prepare", "resolve_paradigm"]
