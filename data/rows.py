"""Training rows for GRPO: groups of candidate passages for a query, rendered as chat prompts.

A *group* is ``group_size`` passages sampled from a query's first-stage top-N so that a reward can tell good
rankings from bad ones: it holds at least one relevant passage (grade >= ``rel_threshold``) and, by default,
at least one non-relevant one. Passages the qrels do not judge count as grade 0. The shown order is shuffled
with a seed, so the first-stage order leaks nothing, and the same seed always gives the same rows.

Row columns (what ``rewards/`` receives as kwargs):
- ``prompt``: chat messages from ``prompts`` (system + user), passages truncated to the budget;
- ``qid``; ``docids``: docids in shown order; ``relevance``: int grades aligned with ``docids``
  (lists, not dicts: a dict column would become an Arrow struct with one field per docid);
- ``paradigm``; ``group``: ``"<qid>#<g>"``, the group the row came from.

Pointwise paradigms score one passage per prompt, so each group becomes ``group_size`` consecutive rows,
one per passage (``docids``/``relevance`` of length 1), all with the same ``qid`` and ``group``: a
listwise-derived (ERank-style) reward collects a group's rows by ``group`` (or a query's by ``qid``).

Sources: any ``Benchmark`` (``rows_from_benchmark``), RankGPT candidate JSON + qrels (``rows_from_rankgpt``),
Tevatron MS MARCO examples (``rows_from_tevatron``: ``positives_per_group`` positives, default 1 as in
Rank-R1, plus ``group_size - positives_per_group`` negatives).
"""

from __future__ import annotations

import math
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rankrl.core.atomic import clean_stale_staging, make_staging, release_staging, storage_errors
from rankrl.core.errors import ConfigError, RankrlError
from rankrl.data.elimination_rows import elimination_steps
from rankrl.data.records import Benchmark

ROW_COLUMNS = ("prompt", "qid", "docids", "relevance", "paradigm", "group")
BUILD_INFO = "build.json"
_CHUNK = 1_000  # rows converted to Arrow at a time, so huge builds never hold every row as Python objects
_RENDER_CHUNK = 64  # prompts rendered per task (per worker round trip when num_proc > 1)


@dataclass(frozen=True)
class Candidate:
    docid: str
    text: str
    grade: int
    unjudged: bool = False  # not in the qrels: counted as grade 0


@dataclass(frozen=True)
class Pool:
    """A query's candidates in first-stage order (already cut to top-N).

    ``fixed_relevant``: when set (Tevatron), each group holds exactly that many relevant passages (fewer only
    if the query has fewer) and the rest are non-relevant; when None, the rest are drawn from the whole pool.
    """

    qid: str
    query: str
    candidates: tuple[Candidate, ...]
    fixed_relevant: int | None = None


@dataclass(frozen=True)
class Skip:
    qid: str
    reason: str


@dataclass
class RowsConfig:
    """How groups are built and prompts rendered; saved in ``build.json``."""

    paradigm: str
    group_size: int = 20
    top_n: int = 100
    groups_per_query: int = 1
    require_negative: bool = True
    rel_threshold: int = 1
    seed: int = 0
    max_prompt_tokens: int | None = None
    max_passage_tokens: int | None = None
    max_passage_chars: int | None = None
    template: str | None = None
    paradigm_options: dict[str, Any] = field(default_factory=dict)

    def validate(self, has_tokenizer: bool) -> None:
        """Errors name the field (``FieldError``); the paradigm and template must exist."""
        from rankrl.core.fields import FieldError

        for name in ("group_size", "top_n", "groups_per_query"):
            if getattr(self, name) < 1:
                raise FieldError(name, f"must be >= 1, got {getattr(self, name)}")
        if self.require_negative and self.group_size < 2:
            raise FieldError("group_size", "must be >= 2 when each group needs a relevant and a non-relevant "
                                           "passage")
        if self.top_n < self.group_size:
            raise FieldError("top_n", f"({self.top_n}) must be >= group_size ({self.group_size})")
        for name in ("max_prompt_tokens", "max_passage_tokens", "max_passage_chars"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise FieldError(name, f"must be >= 1, got {value}")
        if not has_tokenizer and self.max_prompt_tokens:
            raise FieldError("max_prompt_tokens", "needs a tokenizer to measure the chat prompt")


@dataclass
class RowsResult:
    """Built rows and their statistics. ``rows`` holds them as Python dicts (``as_dataset=False``, for tests and
    small builds); with ``as_dataset=True`` they go straight into ``dataset``, a ``datasets.Dataset`` filled
    ``_CHUNK`` rows at a time, and ``rows`` is None: a full MS MARCO build then holds its text once, in Arrow,
    instead of as millions of Python strings (``stats["rows"]`` counts them either way)."""

    rows: list[dict[str, Any]] | None
    stats: dict[str, Any]
    dataset: Any = None


# ----------------------------------------------------------------------------------------------------------
# Group sampling


def _rng(seed: int, qid: str) -> random.Random:
    # String seeds are hashed with SHA-512 by ``random``: stable across processes (unlike hash()).
    return random.Random(f"rankrl-rows:{seed}:{qid}")


def sample_groups(pool: Pool, config: RowsConfig, rng: random.Random) -> list[list[Candidate]] | str:
    """Groups for one query, or the reason the query yields none.

    Each group is anchored on a relevant passage, taken in turn from a shuffled list of the query's relevant
    passages (so successive groups start from different ones), plus one random non-relevant passage when
    required; the rest is drawn at random without replacement, then the group is shuffled.
    """
    k = config.group_size
    relevant = [c for c in pool.candidates if c.grade >= config.rel_threshold]
    others = [c for c in pool.candidates if c.grade < config.rel_threshold]
    if not relevant:
        return "no_relevant_in_top_n"
    if config.require_negative and not others:
        return "no_non_relevant_in_top_n"
    rel_order = rng.sample(relevant, len(relevant))
    groups = []
    for g in range(config.groups_per_query):
        if pool.fixed_relevant is not None:
            take = min(pool.fixed_relevant, len(relevant))
            if len(others) < k - take:
                return "too_few_negatives"
            chosen = [rel_order[(g * take + i) % len(rel_order)] for i in range(take)]
            chosen += rng.sample(others, k - take)
        else:
            if len(pool.candidates) < k:
                return "too_few_candidates"
            chosen = [rel_order[g % len(rel_order)]]
            if config.require_negative:
                chosen.append(rng.choice(others))
            picked = {c.docid for c in chosen}
            rest = [c for c in pool.candidates if c.docid not in picked]
            chosen += rng.sample(rest, k - len(chosen))
        rng.shuffle(chosen)
        groups.append(chosen)
    return groups


# ----------------------------------------------------------------------------------------------------------
# Statistics


@dataclass
class _Collector:
    prompt_unit: str
    queries: int = 0
    used: int = 0
    groups: int = 0
    rows: int = 0
    degenerate: int = 0
    truncated: int = 0
    shown: int = 0
    shown_relevant: int = 0
    shown_unjudged: int = 0
    skipped: Counter = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lengths = np.asarray(self.lengths, dtype=np.float64)
        pct = {}
        if lengths.size:
            pct = {f"p{q}": float(np.percentile(lengths, q)) for q in (50, 90, 95, 99)}
            pct |= {"min": float(lengths.min()), "max": float(lengths.max()), "mean": float(lengths.mean())}
        return {
            "queries": self.queries,
            "queries_used": self.used,
            "queries_skipped": sum(self.skipped.values()),
            "skipped": dict(sorted(self.skipped.items())),
            "groups": self.groups,
            "rows": self.rows,
            "degenerate_groups": self.degenerate,
            "degenerate_group_fraction": self.degenerate / self.groups if self.groups else 0.0,
            "relevant_fraction_shown": self.shown_relevant / self.shown if self.shown else 0.0,
            "unjudged_fraction_shown": self.shown_unjudged / self.shown if self.shown else 0.0,
            "truncated_rows": self.truncated,
            "truncation_rate": self.truncated / self.rows if self.rows else 0.0,
            "prompt_length": {"unit": self.prompt_unit, **pct},
        }


# ----------------------------------------------------------------------------------------------------------
# Rendering


def _paradigm(config: RowsConfig):
    from rankrl.prompts import get_paradigm

    # Truncation settings go into the paradigm too, so its metadata() (stored with checkpoints) records them.
    budgets = {
        name: getattr(config, name)
        for name in ("max_prompt_tokens", "max_passage_tokens", "max_passage_chars")
        if getattr(config, name) is not None
    }
    return get_paradigm(config.paradigm, config.template, **{**config.paradigm_options, **budgets})


@dataclass(frozen=True)
class _Job:
    """One prompt to render: a whole group, or one passage of a pointwise group."""

    qid: str
    query: str
    group: str
    shown: tuple[Candidate, ...]


# What every chunk needs in a worker process (``num_proc > 1``), sent once when the worker starts rather than
# pickled with every chunk: a tokenizer is megabytes, and re-sending it per 64-row chunk cost more than the
# workers saved. Filled by ``_init_worker`` in worker processes only; the building process never touches it.
_WORKER: dict[str, Any] = {}


def _init_worker(paradigm: Any, tokenizer: Any, config: RowsConfig) -> None:
    from rankrl.core.process import die_with_parent

    die_with_parent()  # a killed `data build` must not leave its workers running (core/process.py)
    _WORKER.update(paradigm=paradigm, tokenizer=tokenizer, config=config)


def _render_in_worker(jobs: Sequence[_Job]) -> list[tuple[dict[str, Any], bool, int]]:
    return _render_chunk(_WORKER["paradigm"], _WORKER["tokenizer"], _WORKER["config"], jobs)


def _render_chunk(
    paradigm: Any, tokenizer: Any, config: RowsConfig, jobs: Sequence[_Job]
) -> list[tuple[dict[str, Any], bool, int]]:
    """Rows for ``jobs`` with, for each, whether a passage was truncated and the prompt length.

    A plain function of its arguments so that worker processes can run it (``num_proc > 1``).
    """
    from rankrl.prompts import fit_messages

    out = []
    for job in jobs:
        fit = fit_messages(
            paradigm,
            job.query,
            [c.text for c in job.shown],
            tokenizer=tokenizer,
            max_prompt_tokens=config.max_prompt_tokens,
            max_passage_tokens=config.max_passage_tokens,
            max_passage_chars=config.max_passage_chars,
        )
        if tokenizer is not None and fit.prompt_tokens is not None:
            length = int(fit.prompt_tokens)
        else:
            length = sum(len(m["content"]) for m in fit.messages)
        row = {
            "prompt": [{"role": m["role"], "content": m["content"]} for m in fit.messages],
            "qid": job.qid,
            "docids": [c.docid for c in job.shown],
            "relevance": [int(c.grade) for c in job.shown],
            "paradigm": config.paradigm,
            "group": job.group,
        }
        out.append((row, bool(fit.truncated), length))
    return out


def _jobs(pools: Iterable[Pool | Skip], config: RowsConfig, collector: _Collector, paradigm: Any) -> Iterator[_Job]:
    """Sample every query's groups (cheap, in this process) and count the group statistics."""
    pointwise = paradigm.one_passage_per_prompt  # one row per passage of the group
    # A paradigm that answers one step of a group at a time (elimination) trains on every step of the group.
    stepwise = bool(getattr(paradigm, "rows_are_steps", False))
    seen: set[str] = set()
    for item in pools:
        collector.queries += 1
        if item.qid in seen:
            # Group ids and per-query seeds are keyed by qid: a repeated query would collide.
            raise RankrlError(f"query id {item.qid!r} appears more than once in the source")
        seen.add(item.qid)
        if isinstance(item, Skip):
            collector.skipped[item.reason] += 1
            continue
        groups = sample_groups(item, config, _rng(config.seed, item.qid))
        if isinstance(groups, str):
            collector.skipped[groups] += 1
            continue
        collector.used += 1
        for g, group in enumerate(groups):
            collector.groups += 1
            collector.degenerate += int(len({c.grade for c in group}) == 1)
            collector.shown += len(group)
            collector.shown_relevant += sum(c.grade >= config.rel_threshold for c in group)
            collector.shown_unjudged += sum(c.unjudged for c in group)
            group_id = f"{item.qid}#{g}"
            if pointwise:
                yield from (_Job(item.qid, item.query, group_id, (c,)) for c in group)
            elif stepwise:
                steps = elimination_steps(group, [c.grade for c in group])
                yield from (_Job(item.qid, item.query, group_id, step) for step in steps)
            else:
                yield _Job(item.qid, item.query, group_id, tuple(group))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _iter_rows(
    pools: Iterable[Pool | Skip],
    config: RowsConfig,
    tokenizer: Any,
    collector: _Collector,
    show_progress: bool = False,
    num_proc: int = 1,
    paradigm: Any = None,
) -> Iterator[dict[str, Any]]:
    """Rows in source order. With ``num_proc > 1`` prompts are rendered (and token-counted) in worker
    processes, a bounded number of chunks in flight; sampling stays here, so the rows are the same."""
    paradigm = paradigm if paradigm is not None else _paradigm(config)
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc="building rows", unit="row")
    chunks = _chunks(_jobs(pools, config, collector, paradigm), _RENDER_CHUNK)

    def consume(results: list[tuple[dict[str, Any], bool, int]]) -> Iterator[dict[str, Any]]:
        for row, truncated, length in results:
            collector.rows += 1
            collector.truncated += int(truncated)
            collector.lengths.append(length)
            yield row
        if bar is not None:
            bar.update(len(results))

    try:
        if num_proc <= 1:
            for chunk in chunks:
                yield from consume(_render_chunk(paradigm, tokenizer, config, chunk))
            return
        import multiprocessing
        from collections import deque
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the parent may hold tokenizer/torch threads that a forked child would inherit broken.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            num_proc, mp_context=context, initializer=_init_worker, initargs=(paradigm, tokenizer, config)
        ) as pool:
            pending: deque = deque()
            for chunk in chunks:
                pending.append(pool.submit(_render_in_worker, chunk))
                if len(pending) >= 2 * num_proc:
                    yield from consume(pending.popleft().result())
            while pending:
                yield from consume(pending.popleft().result())
    finally:
        if bar is not None:
            bar.close()


def _unit(tokenizer: Any) -> str:
    return "tokens" if tokenizer is not None else "chars"


def _collect(
    pools: Iterable[Pool | Skip],
    config: RowsConfig,
    tokenizer: Any,
    source: dict,
    show_progress: bool,
    num_proc: int,
    as_dataset: bool = False,
    paradigm: Any = None,
) -> RowsResult:
    config.validate(tokenizer is not None)
    if num_proc < 1:
        raise ConfigError(f"num_proc must be >= 1, got {num_proc}")
    if paradigm is None:  # built once here; callers that already hold it (training) pass it in
        paradigm = _paradigm(config)
    elif paradigm.name != config.paradigm:
        raise ConfigError(f"the paradigm object is {paradigm.name} but the rows config says {config.paradigm}")
    collector = _Collector(_unit(tokenizer))
    rows = _iter_rows(pools, config, tokenizer, collector, show_progress, num_proc, paradigm)
    if as_dataset:
        dataset = _dataset_from_chunks(_chunks(rows, _CHUNK))
        return RowsResult(None, _stats(collector, config, source, paradigm), dataset)
    return RowsResult(list(rows), _stats(collector, config, source, paradigm))


def _stats(collector: _Collector, config: RowsConfig, source: dict, paradigm: Any) -> dict[str, Any]:
    meta = paradigm.metadata() if hasattr(paradigm, "metadata") else {"name": config.paradigm}
    return {"source": source, "config": asdict(config), "paradigm": meta, **collector.summary()}


# ----------------------------------------------------------------------------------------------------------
# Sources


def benchmark_pools(benchmark: Benchmark, top_n: int) -> Iterator[Pool | Skip]:
    """Pools from a benchmark's first stage (excluded ids removed); unjudged passages get grade 0."""
    for qid, query in benchmark.queries.items():
        judgments = benchmark.qrels.get(qid)
        if not judgments:
            yield Skip(qid, "not_judged")
            continue
        excluded = benchmark.excluded.get(qid, set())
        ranked = [d for d, _ in benchmark.first_stage.get(qid, []) if d not in excluded][:top_n]
        if not ranked:
            yield Skip(qid, "no_candidates")
            continue
        candidates = []
        for docid in ranked:
            passage = benchmark.passages.get(docid)
            if passage is None:
                raise RankrlError(
                    f"benchmark {benchmark.name!r}: query {qid} has candidate {docid!r} in its first stage "
                    "but no passage text for it"
                )
            grade = judgments.get(docid)
            candidates.append(Candidate(docid, passage.render(), int(grade or 0), unjudged=grade is None))
        yield Pool(qid, query.text, tuple(candidates))


def rows_from_benchmark(
    benchmark: Benchmark,
    config: RowsConfig,
    *,
    tokenizer: Any = None,
    show_progress: bool = False,
    num_proc: int = 1,
    as_dataset: bool = False,
    paradigm: Any = None,
) -> RowsResult:
    """Rows from any benchmark: groups drawn from each judged query's first-stage top-``config.top_n``.
    ``paradigm``: the paradigm object of ``config`` when the caller already built it (else built here, once)."""
    _check_config(config)
    source = {"kind": "benchmark", "name": benchmark.name, "provenance": _jsonable(benchmark.provenance)}
    return _collect(
        benchmark_pools(benchmark, config.top_n), config, tokenizer, source, show_progress, num_proc, as_dataset,
        paradigm,
    )


def _check_config(config: Any) -> None:
    if not isinstance(config, RowsConfig):
        raise ConfigError(f"rows config must be a RowsConfig, got {type(config).__name__} (RowsConfig(paradigm, "
                          f"group_size=..., ...), or data.sources.RowsSource(...).rows_config())")


def rankgpt_benchmark(candidates_path: str | Path, qrels_path: str | Path) -> Benchmark:
    """A benchmark from RankGPT/rank_llm candidate JSON (queries, texts, first stage) and TREC qrels."""
    from rankrl.data.rankgpt import read_candidates
    from rankrl.data.trec import read_qrels

    queries, passages, run = read_candidates(candidates_path)
    qrels = read_qrels(qrels_path)
    return Benchmark(
        name=f"rankgpt:{Path(candidates_path).name}",
        queries=queries,
        passages=passages,
        qrels=qrels,
        first_stage=run,
        provenance={"candidates": str(candidates_path), "qrels": str(qrels_path), "first_stage": "given"},
    )


def rows_from_rankgpt(
    candidates_path: str | Path,
    qrels_path: str | Path,
    config: RowsConfig,
    *,
    tokenizer: Any = None,
    show_progress: bool = False,
    num_proc: int = 1,
    as_dataset: bool = False,
    paradigm: Any = None,
) -> RowsResult:
    """Rows from RankGPT-format candidates + qrels (groups as ``rows_from_benchmark``)."""
    result = rows_from_benchmark(rankgpt_benchmark(candidates_path, qrels_path), config, tokenizer=tokenizer,
                                 show_progress=show_progress, num_proc=num_proc, as_dataset=as_dataset,
                                 paradigm=paradigm)
    result.stats["source"] = {"kind": "rankgpt", "candidates": str(candidates_path), "qrels": str(qrels_path)}
    return result


def tevatron_pools(examples: Iterable[Any], top_n: int, positives_per_group: int) -> Iterator[Pool | Skip]:
    """Pools from Tevatron examples: positives (grade 1) + the first ``top_n`` negatives (grade 0)."""
    for ex in examples:
        if not ex.positives:
            yield Skip(ex.qid, "no_relevant_in_top_n")
            continue
        candidates = [Candidate(p.docid, p.render(), 1) for p in ex.positives]
        positive_ids = {p.docid for p in ex.positives}
        # A passage listed as both positive and negative is kept as a positive only.
        candidates += [
            Candidate(p.docid, p.render(), 0) for p in ex.negatives if p.docid not in positive_ids
        ][:top_n]
        yield Pool(ex.qid, ex.query, tuple(candidates), fixed_relevant=positives_per_group)


def rows_from_tevatron(
    examples: Iterable[Any] | str | Path,
    config: RowsConfig,
    *,
    positives_per_group: int = 1,
    limit: int | None = None,
    tokenizer: Any = None,
    show_progress: bool = False,
    num_proc: int = 1,
    as_dataset: bool = False,
    paradigm: Any = None,
) -> RowsResult:
    """Rows from Tevatron examples (or a local Tevatron file): ``positives_per_group`` positives + negatives.

    ``config.top_n`` caps the negatives considered per query (in file order: Tevatron lists BM25 hard negatives
    first-stage order); ``limit`` caps the number of queries read. Groups always hold a negative and grade 1 is
    relevant (Tevatron's positives), whatever ``config`` says.
    """
    from dataclasses import replace

    from rankrl.core.fields import FieldError

    _check_config(config)
    if not 1 <= positives_per_group < config.group_size:
        raise FieldError("positives_per_group", f"must be in [1, group_size), got {positives_per_group}")
    if limit is not None and limit < 1:
        raise FieldError("source_limit", f"must be >= 1, got {limit}")
    config = replace(config, require_negative=True, rel_threshold=1)
    top_n = config.top_n
    source: dict[str, Any] = {"kind": "tevatron", "positives_per_group": positives_per_group, "limit": limit}
    if isinstance(examples, (str, Path)):
        from rankrl.data.tevatron import iter_tevatron

        source["file"] = str(examples)
        examples = iter_tevatron(examples)
    examples = _limited(examples, limit)
    return _collect(
        tevatron_pools(examples, top_n, positives_per_group),
        config,
        tokenizer,
        source,
        show_progress,
        num_proc,
        as_dataset,
        paradigm,
    )


def _limited(items: Iterable[Any], limit: int | None) -> Iterator[Any]:
    for i, item in enumerate(items):
        if limit is not None and i >= limit:
            return
        yield item


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


# ----------------------------------------------------------------------------------------------------------
# Datasets on disk


def _features():
    from datasets import Features, List, Value

    return Features(
        {
            "prompt": List({"role": Value("string"), "content": Value("string")}),
            "qid": Value("string"),
            "docids": List(Value("string")),
            "relevance": List(Value("int64")),
            "paradigm": Value("string"),
            "group": Value("string"),
        }
    )


def rows_to_dataset(rows: Sequence[dict[str, Any]]):
    """A ``datasets.Dataset`` with the row schema, from rows already held as Python dicts."""
    if not rows:
        raise RankrlError("no training rows to convert: every query was skipped (see the skipped counts)")
    missing = [c for c in ROW_COLUMNS if c not in rows[0]]
    if missing:
        raise RankrlError(f"rows lack the columns {missing}; expected {list(ROW_COLUMNS)}")
    return _dataset_from_chunks(rows[i : i + _CHUNK] for i in range(0, len(rows), _CHUNK))


def _dataset_from_chunks(chunks: Iterable[Sequence[dict[str, Any]]]):
    """One ``datasets.Dataset`` from chunks of rows, each converted to Arrow as soon as it arrives (so only one
    chunk is ever held as Python objects); an empty dataset with the row schema when there are none."""
    import datasets

    features = _features()
    parts = [
        datasets.Dataset.from_list([{c: r[c] for c in ROW_COLUMNS} for r in chunk], features=features)
        for chunk in chunks
    ]
    if not parts:
        return datasets.Dataset.from_dict({c: [] for c in ROW_COLUMNS}, features=features)
    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def check_replaceable(out: Path) -> None:
    """``--overwrite`` replaces only what ``rankrl data build`` wrote (a folder with ``build.json``) or an empty
    folder: a mistyped ``--out`` (``.``, a home folder, a checkpoint) must never be deleted."""
    if not out.exists():
        return
    if not out.is_dir():
        raise RankrlError(f"--out {out} is a file, not a folder")
    if any(out.iterdir()) and not (out / BUILD_INFO).is_file():
        raise RankrlError(
            f"refusing to replace {out}: it is not empty and was not written by `rankrl data build` (no "
            f"{BUILD_INFO}); choose another --out or remove the folder yourself"
        )


def save_rows(dataset: Any, out_dir: str | Path, build_info: dict[str, Any], overwrite: bool = False) -> Path:
    """Save ``dataset`` + ``build.json`` to ``out_dir`` atomically: written to a sibling temp dir, renamed."""
    import json

    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise RankrlError(f"output folder {out} already exists; pass --overwrite to replace it")
    check_replaceable(out)
    clean_stale_staging(out.parent, out.name, (".tmp",))  # debris of a killed build (its process is gone)
    tmp = make_staging(out.parent, out.name, ".tmp")
    try:
        with storage_errors(out):  # pyarrow's full disk has no file name: "cannot access OUT: No space left ..."
            dataset.save_to_disk(str(tmp))
            (tmp / BUILD_INFO).write_text(json.dumps(_jsonable(build_info), indent=2) + "\n", encoding="utf-8")
        release_staging(tmp)
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            out.rename(trash / out.name)
            tmp.rename(out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_rows(path: str | Path):
    """Load rows saved by ``rankrl data build``; a clear error when ``path`` is not such a folder."""
    import datasets

    path = Path(path)
    if not path.is_dir():
        raise RankrlError(
            f"training rows not found: {path} is not a folder (build it with `rankrl data build`)"
        )
    if not (path / "dataset_info.json").is_file() or not (path / "state.json").is_file():
        raise RankrlError(
            f"{path} is not a dataset saved by `rankrl data build` (no dataset_info.json/state.json in it)"
        )
    try:
        dataset = datasets.load_from_disk(str(path))
    except Exception as err:  # corrupt arrow files, version mismatch...
        raise RankrlError(f"cannot load training rows from {path}: {err}") from err
    if not isinstance(dataset, datasets.Dataset):
        raise RankrlError(f"{path} holds a DatasetDict, not the single dataset `rankrl data build` writes")
    missing = [c for c in ("prompt", "qid", "docids", "relevance") if c not in dataset.column_names]
    if missing:
        raise RankrlError(f"{path}: dataset lacks the columns {missing} (has {dataset.column_names})")
    return dataset
