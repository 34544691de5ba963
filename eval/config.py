"""``EvalConfig``: every option of ``rankrl eval``, typed, one field per flag.

The field name is the flag's ``dest`` (``--top-k`` -> ``top_k``; ``--run`` -> ``first_stage_run``), its default is
the flag's default, and its help (``metadata["help"]``) is the flag's help, so ``rankrl eval --help``, the library
and the generated docs say the same. To add an option: add a field here and a flag in ``eval.cli.build_parser``
(``help=field_help("name")``); ``from_namespace`` maps it by name and tests check the two agree.

``validate()`` speaks in field names ("window must be a positive integer"); the CLI translates to flags.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rankrl.core.fields import FieldError, check_positive

DEFAULT_EVAL_METRICS = "nDCG@10,nDCG@5,nDCG@20,RR@10,R@10,R@100,AP"


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class EvalConfig:
    """Options of one evaluation run (see ``rankrl.eval.evaluate``)."""

    # --- what to evaluate
    model: str = _f("", "checkpoint folder (with rankrl.json) or any HF causal LM")
    adapter: str | None = _f(None, "LoRA adapter folder (peft) applied to the model")
    benchmark: str | Sequence[str] = _f(
        "", "trec-dl-2019, trec-dl-2020, trec-dl (both), bright/<domain>, bright (all 12 + average), local:<dir>; "
            "several separated by commas (library: a list also works)")
    data_dir: str | None = _f(None, "folder with the benchmark files (e.g. ../shared/data); without it TREC DL "
                                    "loads from ir_datasets and BRIGHT from the Hugging Face Hub")
    first_stage_run: str | None = _f(None, "first-stage TREC run (may contain {domain} for BRIGHT, e.g. "
                                           "runs/{domain}.txt)")
    corpus: str | None = _f(None, "passage texts, JSONL {docid,text,title?} (may contain {domain})")
    first_stage: str | None = _f(None, "BRIGHT first stage: run, bm25 or bm25-reasoning (default: the run in the "
                                       "data folder)")
    qrels_variant: str = _f("original", "BRIGHT qrels: original gold_ids or Waterloo's fixed qrels")
    source: str | None = _f(None, "benchmark source override (local, ir_datasets, pyserini, hf)")
    out: str | None = _f(None, "output folder (also holds the completion cache for resume); library: None writes "
                               "nothing and keeps no cache")
    max_queries: int | None = _f(None, "rerank only the first N judged queries of each benchmark")
    top_k: int = _f(100, "first-stage candidates reranked per query")
    depth: int | None = _f(None, "first-stage candidates kept (default: max(100, top_k))")

    # --- paradigm and strategy
    paradigm: str | None = _f(None, "override the checkpoint's paradigm (needed without rankrl.json)")
    template: str | None = _f(None, "override the prompt template: shipped name or path to a template JSON")
    strategy: str | None = _f(None, "inference strategy (default: the paradigm's)")
    sort: str = _f("heapsort", "setwise sort: heapsort or bubblesort")
    num_child: int = _f(19, "setwise: children per heap node (c)")
    k: int = _f(10, "setwise: how many top passages to sort")
    window: int = _f(20, "listwise: window size")
    stride: int = _f(10, "listwise: window stride")
    passes: int = _f(1, "listwise: back-to-front sweeps")
    group_size: int = _f(20, "groupwise: passages per group")
    no_expected_score: bool = _f(False, "pointwise: use the parsed score even when logprobs are available")
    logprobs: int = _f(20, "pointwise: top alternatives per answer token")
    repeats: int = _f(1, "test-time repeats on shuffled candidate orders (groupwise: r group partitions)")
    merge: str | None = _f(None, "how repeats merge (default: the paradigm's, mean-score for score-giving "
                                 "paradigms, mean-rank otherwise)")
    fusion: str = _f("none", "fuse with first-stage scores after normalising both")
    fusion_weight: float = _f(0.5, "reranker share of the fused score (first stage: 1 - weight)")
    max_passage_tokens: int | None = _f(None, "truncate passages (default: the checkpoint's)")
    max_passage_chars: int | None = _f(None, "truncate passages by characters")
    max_prompt_tokens: int | None = _f(None, "shrink passages so each prompt fits")
    max_passage_words: int | None = _f(None, "truncate passages to N words (rank_llm's cut; default: the template's)")
    max_query_tokens: int | None = _f(None, "truncate the query to N tokens (default: the template's)")
    shuffle_comparisons: bool | None = _f(None, "setwise: show the passages of every comparison in a seeded random "
                                                "order, as Rank-R1 does (default: the template's, else off)")
    permutations: int = _f(1, "setwise: shuffled prompts per comparison, majority vote (llm-rankers' "
                              "num_permutation; > 1 implies shuffled comparisons)")
    scoring: str | None = _f(None, "how answers become scores: parse, true-false (Rank1), first-token (FIRST), "
                                   "score-probability (ERank), expected-score (default: the template's)")

    # --- generation
    backend: str = _f("hf", "generation backend: hf (transformers) or vllm")
    temperature: float = _f(0.0, "0 = greedy")
    top_p: float = _f(1.0, "nucleus sampling mass")
    seed: int = _f(0, "sampling and repeat-shuffle seed")
    max_new_tokens: int = _f(1024, "generation budget per prompt")
    batch_size: int | None = _f(None, "prompts per backend call (default: hf 8, vllm 4096)")
    device: str = _f("auto", "hf: cpu, cuda, cuda:1 …")
    dtype: str = _f("auto", "model dtype: auto, bfloat16, float16, float32")
    tensor_parallel_size: int = _f(1, "vllm: GPUs per model")
    max_model_len: int | None = _f(None, "vllm: context length")
    gpu_memory_utilization: float = _f(0.9, "vllm: memory fraction")
    enforce_eager: bool = _f(False, "vllm: no CUDA graphs")
    chat_template_kwargs: str | dict[str, Any] | None = _f(  # noqa: RUF009 - a None default, not shared state
        None, 'JSON object passed to the chat template, e.g. \'{"enable_thinking": true}\' (library: a dict)')

    # --- scoring and output
    metrics: str | Sequence[str] = _f(DEFAULT_EVAL_METRICS, "comma-separated metrics (ir_measures names)")
    rel_level: int | None = _f(None, "binary relevance threshold (default: 2 for TREC DL, else 1)")
    no_progress: bool = _f(False, "hide progress bars")
    warn_unparsed: float = _f(0.1, "warn on stderr when more than this fraction of a benchmark's answers fail to "
                                   "parse")
    max_unparsed: float | None = _f(None, "exit with an error (code 3) when more than this fraction of all answers "
                                          "fail to parse (outputs are still written)")
    explicit: tuple[str, ...] = _f((), "options set explicitly (the CLI records its flags): a template's published "
                                       "defaults never override them; empty: an option that differs from its "
                                       "default counts as set")

    # --- derived views ------------------------------------------------------------------------------------

    def benchmark_names(self) -> list[str]:
        parts = self.benchmark.split(",") if isinstance(self.benchmark, str) else list(self.benchmark)
        return [p.strip() for p in parts if p and p.strip()]

    def metric_names(self) -> tuple[str, ...]:
        parts = self.metrics.split(",") if isinstance(self.metrics, str) else list(self.metrics)
        names = tuple(m.strip() for m in parts if m and m.strip())
        return names if "nDCG@10" in names else ("nDCG@10", *names)

    def template_kwargs(self) -> dict[str, Any]:
        value: Any = self.chat_template_kwargs
        if not value:
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as err:
                raise FieldError("chat_template_kwargs", f"is not valid JSON ({err})") from err
        if not isinstance(value, dict):
            raise FieldError("chat_template_kwargs", "must be a JSON object")
        return dict(value)

    def validate(self) -> None:
        """Check every value that can be checked without reading a file or a model."""
        if not self.model:
            raise FieldError("model", "is required")
        if not self.benchmark_names():
            raise FieldError("benchmark", "is empty")
        check_positive(self, ("max_queries", "depth", "batch_size", "max_model_len", "max_passage_tokens",
                              "max_passage_chars", "max_prompt_tokens", "max_passage_words", "max_query_tokens"),
                       optional=True)
        check_positive(self, ("permutations",))
        for name in ("warn_unparsed", "max_unparsed"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise FieldError(name, f"must be a fraction in [0, 1], got {value}")
        check_positive(self, ("top_k", "num_child", "k", "window", "passes", "group_size", "repeats",
                              "max_new_tokens", "tensor_parallel_size"))
        if self.temperature < 0:
            raise FieldError("temperature", f"must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise FieldError("top_p", f"must be in (0, 1], got {self.top_p}")
        if not 0 <= self.fusion_weight <= 1:
            raise FieldError("fusion_weight", f"must be in [0, 1], got {self.fusion_weight}")
        if self.logprobs < 0:
            raise FieldError("logprobs", f"must be >= 0, got {self.logprobs}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise FieldError("gpu_memory_utilization", f"must be in (0, 1], got {self.gpu_memory_utilization}")
        self.template_kwargs()
        if self.out is not None:
            out = Path(self.out)
            if out.exists() and not out.is_dir():
                raise FieldError("out", f"{out} exists and is not a folder")


def field_help(name: str) -> str:
    """The help of an ``EvalConfig`` field (what ``rankrl eval --help`` shows for its flag)."""
    for f in fields(EvalConfig):
        if f.name == name:
            return str(f.metadata["help"])
    raise KeyError(name)


def field_default(name: str) -> Any:
    for f in fields(EvalConfig):
        if f.name == name:
            return f.default
    raise KeyError(name)


__all__ = ["DEFAULT_EVAL_METRICS", "EvalConfig", "field_default", "field_help"]
