"""``RowsSource``: where training rows come from and how they are built — one vocabulary for every command.

The same field names are recipe keys of ``rankrl train`` (its ``ScriptArguments`` extends ``RowsSource``) and
flags of ``rankrl data build`` (``--group-size`` or ``--group_size``), and every source works in both:

- ``data_source: synthetic`` — the synthetic task of ``data.synthetic`` (``synthetic_*`` fields);
- ``data_source: benchmark:NAME`` — ``trec-dl-2019``, ``bright/<domain>``, ``local:DIR`` (``benchmark_dir``,
  ``first_stage_run``);
- ``data_source: tevatron:FILE`` or ``tevatron:hf`` — Tevatron MS MARCO examples (``tevatron_hf_*``,
  ``positives_per_group``, ``source_limit``);
- ``data_source: rankgpt:FILE`` — RankGPT/rank_llm candidates with ``rankgpt_qrels``.

This module holds the one source check (``problems``), the one ``RowsConfig`` construction (``rows_config``) and
the one source dispatch (``build_rows``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankrl.core.fields import FieldError

SOURCE_KINDS = ("synthetic", "benchmark", "tevatron", "rankgpt")


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class RowsSource:
    """A data source and the group/prompt settings rows are built with (see the module docstring)."""

    # --- the source
    data_source: str | None = _f(None, "where rows come from: 'synthetic', 'benchmark:NAME' (trec-dl-2019, "
                                       "bright/<domain>, local:DIR), 'tevatron:FILE', 'tevatron:hf', "
                                       "'rankgpt:FILE' (with rankgpt_qrels)")
    benchmark_dir: str | None = _f(None, "benchmark: folder of its local files (e.g. ../shared/data)")
    first_stage_run: str | None = _f(None, "benchmark: first stage from this TREC run instead of its own")
    rankgpt_qrels: str | None = _f(None, "rankgpt: TREC qrels file")
    tevatron_hf_dataset: str | None = _f(None, "tevatron:hf dataset repository (default: Tevatron/msmarco-passage)")
    tevatron_hf_split: str = _f("train", "tevatron:hf split (file <split>.jsonl.gz)")
    tevatron_hf_revision: str | None = _f(None, "tevatron:hf revision (default: the pinned commit)")
    source_limit: int | None = _f(None, "tevatron: read at most this many queries")
    synthetic_queries: int = _f(64, "synthetic: number of queries")
    synthetic_task: str = _f("match", "synthetic: 'match' or 'marker'")
    synthetic_passage_words: int = _f(4, "synthetic: filler words per passage")
    # --- groups
    group_size: int = _f(20, "passages per group")
    top_n: int = _f(100, "first-stage depth groups are drawn from")
    groups_per_query: int = _f(1, "groups sampled per query")
    positives_per_group: int = _f(1, "tevatron: positives in each group")
    rel_threshold: int = _f(1, "grade at or above which a passage is relevant")
    allow_no_negative: bool = _f(False, "keep groups without a non-relevant passage (not for tevatron)")
    rows_seed: int = _f(0, "seed of group sampling and shuffling")
    # --- prompts
    paradigm: str = _f("setwise", "setwise, listwise, pointwise, groupwise (or elimination)")
    template: str | None = _f(None, "prompt template name or JSON file (default: the paradigm's)")
    think_prefilled: bool = _f(False, "the chat template opens <think> itself (Qwen3-style)")
    answer_fallback: bool = _f(False, "read an unclosed answer block (flagged)")
    max_prompt_tokens: int | None = _f(None, "truncate passages so each rendered prompt fits this many tokens "
                                             "(needs a tokenizer)")
    max_passage_tokens: int | None = _f(None, "truncate each passage (tokens)")
    max_passage_chars: int | None = _f(None, "truncate each passage (characters)")

    # --- views ------------------------------------------------------------------------------------------

    @property
    def kind(self) -> str:
        return (self.data_source or "").partition(":")[0]

    @property
    def value(self) -> str:
        return (self.data_source or "").partition(":")[2]

    def paradigm_options(self) -> dict[str, Any]:
        return {"think_prefilled": self.think_prefilled, "answer_fallback": self.answer_fallback}

    def make_paradigm(self) -> Any:
        """The prompts paradigm these fields describe (template and truncation settings included)."""
        from rankrl.prompts import get_paradigm

        return get_paradigm(self.paradigm, self.template, **self.paradigm_options(),
                            max_passage_chars=self.max_passage_chars, max_passage_tokens=self.max_passage_tokens,
                            max_prompt_tokens=self.max_prompt_tokens)

    def rows_config(self) -> Any:
        """The ``data.rows.RowsConfig`` of these fields: built here and nowhere else."""
        from rankrl.data.rows import RowsConfig

        tevatron = self.kind == "tevatron"
        return RowsConfig(
            paradigm=self.paradigm, group_size=self.group_size, top_n=self.top_n,
            groups_per_query=self.groups_per_query,
            require_negative=True if tevatron else not self.allow_no_negative,
            rel_threshold=1 if tevatron else self.rel_threshold, seed=self.rows_seed,
            max_prompt_tokens=self.max_prompt_tokens, max_passage_tokens=self.max_passage_tokens,
            max_passage_chars=self.max_passage_chars, template=self.template,
            paradigm_options=self.paradigm_options())

    # --- the one source check ---------------------------------------------------------------------------

    def problems(self, *, check_paths: bool = True, has_tokenizer: bool | None = None,
                 check_paradigm: bool = True) -> list[FieldError]:
        """Everything wrong with the source and group settings, each naming its field (empty: fine).
        ``has_tokenizer``: None skips the check that ``max_prompt_tokens`` has a tokenizer to count with.
        ``check_paradigm`` off: the caller builds (and so checks) the paradigm itself."""
        out: list[FieldError] = []
        if check_paradigm:
            from rankrl.core.errors import RankrlError

            try:
                self.make_paradigm()
            except RankrlError as err:
                out.append(FieldError("paradigm", template=str(err)))
        kind, value = self.kind, self.value
        if not self.data_source:
            return [FieldError("data_source", f"is not set; one of {_KINDS_HELP}")]
        if kind not in SOURCE_KINDS:
            return [FieldError("data_source", f"kind {kind!r} is not one of {', '.join(SOURCE_KINDS)}")]
        if kind != "synthetic" and not value:
            out.append(FieldError("data_source", f"{self.data_source!r} needs a value after '{kind}:'"))
        if kind == "rankgpt" and not self.rankgpt_qrels:
            out.append(FieldError("rankgpt_qrels", "is needed with data_source rankgpt:FILE"))
        for name, needs in (("rankgpt_qrels", "rankgpt"), ("benchmark_dir", "benchmark"),
                            ("first_stage_run", "benchmark"), ("source_limit", "tevatron"),
                            ("tevatron_hf_dataset", "tevatron"), ("tevatron_hf_revision", "tevatron")):
            if getattr(self, name) is not None and kind != needs:
                out.append(FieldError(name, f"is only used with data_source {needs}:..."))
        if kind == "tevatron":
            if not 1 <= self.positives_per_group < self.group_size:
                out.append(FieldError("positives_per_group", f"must be in [1, group_size), got "
                                                             f"{self.positives_per_group}"))
            if self.allow_no_negative:
                out.append(FieldError("allow_no_negative", "does not apply to tevatron (groups are positives + "
                                                           "negatives)"))
        if self.source_limit is not None and self.source_limit < 1:
            out.append(FieldError("source_limit", f"must be >= 1, got {self.source_limit}"))
        if kind == "synthetic" and self.synthetic_queries < 1:
            out.append(FieldError("synthetic_queries", f"must be >= 1, got {self.synthetic_queries}"))
        if check_paths:
            files = {"tevatron": [("data_source", value if value != "hf" else None)],
                     "rankgpt": [("data_source", value), ("rankgpt_qrels", self.rankgpt_qrels)],
                     "benchmark": [("first_stage_run", self.first_stage_run)]}.get(kind, [])
            for name, path in files:
                if path and not Path(path).is_file():
                    out.append(FieldError(name, template=f"file not found: {path} ({{field}})"))
        out += self._group_problems(has_tokenizer)
        return out

    def _group_problems(self, has_tokenizer: bool | None) -> list[FieldError]:
        try:
            self.rows_config().validate(has_tokenizer=True if has_tokenizer is None else has_tokenizer)
        except FieldError as err:
            return [err]
        return []

    def check(self, *, check_paths: bool = True, has_tokenizer: bool | None = None,
              check_paradigm: bool = True) -> None:
        """Raise the first of ``problems()``."""
        found = self.problems(check_paths=check_paths, has_tokenizer=has_tokenizer, check_paradigm=check_paradigm)
        if found:
            raise found[0]


_KINDS_HELP = "'synthetic', 'benchmark:NAME', 'tevatron:FILE|hf', 'rankgpt:FILE'"


def source_fields() -> tuple[str, ...]:
    from dataclasses import fields

    return tuple(f.name for f in fields(RowsSource))


# --- the one source dispatch ---------------------------------------------------------------------------------

def build_rows(source: RowsSource, *, tokenizer: Any = None, split: str = "train", show_progress: bool = False,
               num_proc: int = 1, as_dataset: bool = True, check_paths: bool = True, paradigm: Any = None) -> Any:
    """Training rows (``data.rows.RowsResult``) from ``source``; checks it first (errors name fields).

    ``tokenizer``: counts prompt tokens (needed for ``max_prompt_tokens``). ``split``: the synthetic split.
    ``as_dataset``: rows go straight into a ``datasets.Dataset`` (``result.dataset``), else ``result.rows``.
    ``paradigm``: ``source.make_paradigm()`` when the caller already holds it (built once per run)."""
    from rankrl.core.errors import RankrlError
    from rankrl.data import rows as rows_mod

    if paradigm is None:
        try:
            paradigm = source.make_paradigm()
        except RankrlError as err:
            raise FieldError("paradigm", template=str(err)) from err
    source.check(check_paths=check_paths, has_tokenizer=tokenizer is not None, check_paradigm=False)
    config = source.rows_config()
    common: dict[str, Any] = {"tokenizer": tokenizer, "show_progress": show_progress, "num_proc": num_proc,
                              "as_dataset": as_dataset, "paradigm": paradigm}
    kind, value = source.kind, source.value
    if kind == "tevatron":
        info: dict[str, Any] = {}
        examples: Any = Path(value)
        if value == "hf":
            from rankrl.data.tevatron import HF_DATASET, HF_REVISION, iter_tevatron_hf

            name = source.tevatron_hf_dataset or HF_DATASET
            revision = source.tevatron_hf_revision or HF_REVISION
            examples = iter_tevatron_hf(name, source.tevatron_hf_split, revision)
            info = {"hf_dataset": name, "hf_split": source.tevatron_hf_split, "hf_revision": revision}
        result = rows_mod.rows_from_tevatron(examples, config, positives_per_group=source.positives_per_group,
                                             limit=source.source_limit, **common)
        result.stats["source"].update(info)
    elif kind == "rankgpt":
        result = rows_mod.rows_from_rankgpt(value, str(source.rankgpt_qrels), config, **common)
    else:
        benchmark = load_source_benchmark(source, split)
        result = rows_mod.rows_from_benchmark(benchmark, config, **common)
        if kind == "synthetic":
            result.stats["source"]["provenance"] = benchmark.provenance
    result.stats["source"]["data_source"] = source.data_source
    return result


def load_source_benchmark(source: RowsSource, split: str = "train") -> Any:
    """The benchmark behind a ``synthetic`` or ``benchmark:NAME`` source."""
    if source.kind == "synthetic":
        from rankrl.data.synthetic import synthetic_benchmark

        return synthetic_benchmark(source.synthetic_queries, source.group_size, source.rows_seed, split,
                                   task=source.synthetic_task, passage_words=source.synthetic_passage_words)
    from rankrl.data.benchmarks import BenchmarkOptions, load_benchmark

    options = BenchmarkOptions(run=source.first_stage_run) if source.first_stage_run else None
    return load_benchmark(source.value, data_dir=source.benchmark_dir, options=options)


__all__ = ["SOURCE_KINDS", "RowsSource", "build_rows", "load_source_benchmark", "source_fields"]
