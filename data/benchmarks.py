"""Benchmarks by name: ``trec-dl-2019``, ``trec-dl-2020``, ``bright/<domain>`` (``bright`` = all 12), ``local:<dir>``.

Each loader validates its files (errors name the file and line), restricts the collection to judged queries,
and records in ``Benchmark.provenance`` where every part came from: the files or Hub/ir_datasets ids, the
first stage (given run or BM25 and its parameters), the qrels variant and, when document texts are not
available, that they are missing and how to get them (scoring still works; reranking needs texts).

Network sources (``ir_datasets``, Pyserini, the Hugging Face Hub) are imported only when asked for and fail
with a message saying what to install or how to work offline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rankrl.core.atomic import atomic_write_text
from rankrl.core.errors import ConfigError, DataFormatError, RankrlError, unknown_name
from rankrl.core.fields import from_mapping
from rankrl.data import bright as bright_mod
from rankrl.data.jsonl import field_str, iter_jsonl, read_corpus, read_queries, write_jsonl
from rankrl.data.rankgpt import read_candidates
from rankrl.data.records import Benchmark, Passage, Qrels, Query, Run
from rankrl.data.trec import read_qrels, read_run, read_topics, trec_eval_order, write_qrels, write_run

log = logging.getLogger(__name__)

TREC_DL = ("trec-dl-2019", "trec-dl-2020")
BENCHMARK_NAMES: tuple[str, ...] = TREC_DL + tuple(f"bright/{d}" for d in bright_mod.DOMAINS)
"""Every named benchmark; ``local:<dir>`` is accepted as well, and ``bright`` expands to the 12 domains."""

DEFAULT_DEPTH = 100

TREC_DL_FILES: dict[str, dict[str, str]] = {
    "trec-dl-2019": {
        "qrels": "qrels.dl19-passage.txt",
        "topics": "topics.dl19-passage.txt",
        "run": "bm25_trec_results_dl19_top100.txt",
        "candidates": "bm25_retrieve_results_dl19_top100.json",
        "candidates_jsonl": "retrieve_results_dl19_top100.jsonl",
    },
    "trec-dl-2020": {
        "qrels": "qrels.dl20-passage.txt",
        "topics": "topics.dl20.txt",
        "run": "bm25_trec_results_dl20_top100.txt",
        "candidates": "bm25_retrieve_results_dl20_top100.json",
        "candidates_jsonl": "retrieve_results_dl20_top100.jsonl",
    },
}
"""Local TREC DL file names: Anserini qrels/topics, the BM25 TREC run and its candidates with passage texts
(RankGPT JSON, or rank_llm_data's newer ``retrieve_results/BM25/retrieve_results_dl*_top100.jsonl``)."""

_IR_DATASETS_IDS = {"trec-dl-2019": "msmarco-passage/trec-dl-2019/judged",
                    "trec-dl-2020": "msmarco-passage/trec-dl-2020/judged"}
_PYSERINI_IDS = {"trec-dl-2019": ("dl19-passage", "dl19-passage"), "trec-dl-2020": ("dl20", "dl20-passage")}
PYSERINI_INDEX = "msmarco-v1-passage"

BRIGHT_FIRST_STAGES = ("run", "bm25", "bm25-reasoning")
LOCAL_FILES = {"queries": "queries.jsonl", "corpus": "corpus.jsonl", "qrels": "qrels.txt", "run": "run.trec",
               "excluded": "excluded.jsonl", "meta": "benchmark.json"}


# --- names -----------------------------------------------------------------------------------------------

def expand_benchmark_names(name: str) -> list[str]:
    """``bright`` -> the 12 ``bright/<domain>`` names, ``trec-dl`` -> both years; a single valid name -> [name]."""
    name = name.strip()
    if name == "bright":
        return [f"bright/{d}" for d in bright_mod.DOMAINS]
    if name == "trec-dl":
        return list(TREC_DL)
    return [canonical_name(name)]


def canonical_name(name: str) -> str:
    """Validate a benchmark name; BRIGHT domains may be spelled with hyphens (``bright/earth-science``)."""
    name = name.strip()
    if name.startswith("local:"):
        if not name[len("local:"):]:
            raise RankrlError("benchmark 'local:' needs a folder: local:<dir>")
        return name
    if name.startswith("bright/"):
        return "bright/" + bright_mod.normalize_domain(name[len("bright/"):])
    if name in TREC_DL:
        return name
    raise unknown_name("benchmark", name, (*BENCHMARK_NAMES, "bright", "trec-dl", "local:<dir>"))


@dataclass(frozen=True)
class BenchmarkOptions:
    """How to load a benchmark; None means the family's default. Which options a family takes (an option given
    to a family that has no use for it is an error naming it):

    - all: ``run`` (first stage from this TREC run), ``corpus`` (JSONL passages; BM25 over it when there is no
      run), ``depth`` (candidates kept per query, default 100), ``k1``/``b``/``stemmer`` (BM25 settings).
    - ``trec-dl-*``: ``source`` = ``local`` (default with ``data_dir``) | ``ir_datasets`` (default otherwise) |
      ``pyserini``.
    - ``bright/<domain>``: ``source`` = ``local`` (default with ``data_dir``) | ``hf``; ``qrels`` = ``original``
      | ``fixed`` (local: Waterloo's corrected qrels); ``first_stage`` = ``run`` | ``bm25`` | ``bm25-reasoning``;
      ``long_documents``, ``revision``, ``cache_dir``, ``reasoning_config`` (Hub).
    """

    run: str | None = field(default=None, metadata={"help": "first-stage TREC run"})
    corpus: str | None = field(default=None, metadata={"help": "passage texts, JSONL {docid,text,title?}"})
    depth: int | None = field(default=None, metadata={"help": "first-stage candidates kept per query (100)"})
    source: str | None = field(default=None, metadata={"help": "local, ir_datasets, pyserini (TREC DL), hf"})
    qrels: str | None = field(default=None, metadata={"help": "BRIGHT qrels: original or fixed"})
    first_stage: str | None = field(default=None, metadata={"help": "BRIGHT: run, bm25 or bm25-reasoning"})
    long_documents: bool | None = field(default=None, metadata={"help": "BRIGHT: long-document corpus"})
    revision: str | None = field(default=None, metadata={"help": "BRIGHT Hub revision"})
    cache_dir: str | None = field(default=None, metadata={"help": "BRIGHT Hub cache folder"})
    reasoning_config: str | None = field(default=None, metadata={"help": "BRIGHT reasoning-query config"})
    k1: float | None = field(default=None, metadata={"help": "BM25 k1"})
    b: float | None = field(default=None, metadata={"help": "BM25 b"})
    stemmer: str | None = field(default=None, metadata={"help": "BM25 stemmer"})

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> BenchmarkOptions:
        """Options from a plain mapping; a misspelt name is a ``ConfigError`` naming it."""
        return from_mapping(cls, options, "benchmark")

    def given(self) -> dict[str, Any]:
        """The options set (not None), as the family loaders read them."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def load_benchmark(name: str, data_dir: str | Path | None = None,
                   options: BenchmarkOptions | None = None) -> Benchmark:
    """Load a benchmark by name (see the module docstring) with typed ``options`` (``BenchmarkOptions``)."""
    if options is not None and not isinstance(options, BenchmarkOptions):
        raise ConfigError(f"benchmark options must be BenchmarkOptions, got {type(options).__name__} (a mapping: "
                          f"BenchmarkOptions.from_mapping)")
    given = (options or BenchmarkOptions()).given()
    name = canonical_name(name)
    if name.startswith("local:"):
        _no_unknown(given, {"run", "corpus", "depth", "k1", "b", "stemmer"}, name)
        return load_local_benchmark(Path(name[len("local:"):]), **given)
    if name in TREC_DL:
        return _load_trec_dl(name, data_dir, **given)
    return _load_bright(name, data_dir, **given)


def _no_unknown(options: Mapping[str, Any], allowed: set[str], name: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(f"benchmark {name}: option(s) {', '.join(unknown)} do not apply to it; it takes: "
                          f"{', '.join(sorted(allowed))}")


def _depth(options: Mapping[str, Any]) -> int:
    depth = options.get("depth", DEFAULT_DEPTH)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise RankrlError(f"depth must be a positive integer, got {depth!r}")
    return depth


def _truncate(run: Run, depth: int) -> Run:
    return {qid: ranking[:depth] for qid, ranking in run.items()}


def _bm25(queries: dict[str, Query], passages: dict[str, Passage], depth: int,
          options: Mapping[str, Any]) -> tuple[Run, dict[str, Any]]:
    from rankrl.data.bm25 import bm25_run

    params = {k: options[k] for k in ("k1", "b", "stemmer") if k in options}
    run, info = bm25_run(queries, passages, k=depth, **params)
    run = {qid: trec_eval_order(ranking) for qid, ranking in run.items()}  # tied scores: trec_eval's docid order
    return run, {"kind": "bm25", **dict(info)}


def _restrict(name: str, queries: dict[str, Query], qrels: Qrels, run: Run) -> tuple[dict[str, Query], Run]:
    """Keep the judged queries only; every judged query must have a text."""
    no_text = [qid for qid in qrels if qid not in queries]
    if no_text:
        raise RankrlError(f"benchmark {name}: {len(no_text)} judged queries have no query text "
                          f"(e.g. {', '.join(no_text[:5])}); check that the topics match the qrels")
    judged = {qid: queries[qid] for qid in qrels}
    return judged, {qid: ranking for qid, ranking in run.items() if qid in judged}


def _passages_note(run: Run, passages: dict[str, Passage]) -> str:
    needed = {docid for ranking in run.values() for docid, _ in ranking}
    missing = len(needed - passages.keys())
    return "complete" if not missing else f"missing: {missing} of {len(needed)} candidate documents have no text"


def _resolve_dir(data_dir: str | Path, sub: str, marker: str) -> Path:
    """Accept the folder holding the files, or its parent with a ``sub`` folder (e.g. ``shared/data``)."""
    base = Path(data_dir)
    if not base.is_dir():
        raise RankrlError(f"data folder {base} does not exist")
    if not (base / marker).exists() and (base / sub / marker).exists():
        return base / sub
    return base


# --- TREC DL ---------------------------------------------------------------------------------------------

def _load_trec_dl(name: str, data_dir: str | Path | None, **options: Any) -> Benchmark:
    _no_unknown(options, {"source", "run", "corpus", "depth", "k1", "b", "stemmer"}, name)
    source = options.get("source") or ("local" if data_dir is not None else "ir_datasets")
    if source == "local":
        if data_dir is None:
            raise RankrlError(f"benchmark {name} with source='local' needs data_dir (a folder holding "
                              f"{', '.join(TREC_DL_FILES[name].values())})")
        return _trec_dl_local(name, Path(data_dir), options)
    if source == "ir_datasets":
        return _trec_dl_ir_datasets(name, options)
    if source == "pyserini":
        return _trec_dl_pyserini(name, options)
    raise unknown_name(f"source for {name}", str(source), ("local", "ir_datasets", "pyserini"))


def _trec_dl_local(name: str, data_dir: Path, options: Mapping[str, Any]) -> Benchmark:
    files = TREC_DL_FILES[name]
    folder = _resolve_dir(data_dir, "trec-dl", files["qrels"])
    depth = _depth(options)
    paths = {key: folder / fname for key, fname in files.items()}
    for key in ("qrels", "topics"):
        if not paths[key].is_file():
            raise RankrlError(f"benchmark {name}: {paths[key]} not found. Get {files[key]} from "
                              f"https://github.com/castorini/anserini-tools ({key}/ folder), or load with "
                              f"source='ir_datasets' (pip install -e '.[ir]' from the rankrl clone).")
    qrels = read_qrels(paths["qrels"])
    queries = read_topics(paths["topics"])
    provenance: dict[str, Any] = {"source": "local", "folder": str(folder), "qrels": str(paths["qrels"]),
                                  "topics": str(paths["topics"])}

    passages: dict[str, Passage] = {}
    cand_run: Run = {}
    cand_path = next((paths[k] for k in ("candidates", "candidates_jsonl") if paths[k].is_file()), None)
    if cand_path is not None:
        _, passages, cand_run = read_candidates(cand_path)
        provenance["passages_file"] = str(cand_path)
    if options.get("corpus"):
        passages = {**passages, **read_corpus(options["corpus"])}
        provenance["corpus"] = str(options["corpus"])

    if options.get("run"):
        run = read_run(options["run"])
        provenance["first_stage"] = {"kind": "run", "path": str(options["run"])}
    elif paths["run"].is_file():
        run = read_run(paths["run"])
        provenance["first_stage"] = {"kind": "run", "path": str(paths["run"]), "retriever": "BM25 (Pyserini, "
                                     "k1=0.9, b=0.4) from castorini/rank_llm_data"}
    elif cand_run:
        run = cand_run
        provenance["first_stage"] = {"kind": "run", "path": str(cand_path), "retriever": "BM25"}
    elif options.get("corpus"):
        judged_queries = {qid: queries[qid] for qid in qrels if qid in queries}
        run, provenance["first_stage"] = _bm25(judged_queries, passages, depth, options)
    else:
        raise RankrlError(
            f"benchmark {name}: no first-stage run in {folder}: expected {files['run']} (TREC run), "
            f"{files['candidates']} (RankGPT JSON with passage texts) or {files['candidates_jsonl']} (rank_llm "
            f"JSONL with passage texts, from the castorini/rank_llm_data dataset on the Hugging Face Hub, "
            f"folder retrieve_results/BM25/). Or pass run=PATH (any TREC run) and corpus=PATH "
            f"(JSONL passages), pass corpus=PATH alone to compute BM25, or load with source='ir_datasets' "
            f"(pip install -e '.[ir]' from the rankrl clone) or source='pyserini' (pip install pyserini; needs Java 21).")
    queries, run = _restrict(name, queries, qrels, _truncate(run, depth))
    provenance["passages"] = (_passages_note(run, passages) if passages else
                              f"missing: no passage texts (neither {files['candidates']} nor "
                              f"{files['candidates_jsonl']} in {folder}); pass corpus=PATH or use "
                              f"source='ir_datasets' to rerank")
    provenance["queries"] = f"{len(queries)} judged queries (topics restricted to the qrels)"
    provenance["depth"] = depth
    return Benchmark(name, queries, passages, qrels, run, {}, provenance)


def _import_optional(module: str, install: str, purpose: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise RankrlError(f"{purpose} needs the '{module}' package, which is not installed: {install}") from err


def _trec_dl_ir_datasets(name: str, options: Mapping[str, Any]) -> Benchmark:
    depth = _depth(options)
    ir_datasets = _import_optional("ir_datasets", "pip install -e '.[ir]' from the rankrl clone (or: pip install ir_datasets)",
                                   f"loading {name} from ir_datasets")
    ds_id = _IR_DATASETS_IDS[name]
    try:
        ds = ir_datasets.load(ds_id)
        queries = {q.query_id: Query(q.query_id, q.text) for q in ds.queries_iter()}
        qrels: Qrels = {}
        for r in ds.qrels_iter():
            qrels.setdefault(r.query_id, {})[r.doc_id] = int(r.relevance)
        provenance: dict[str, Any] = {"source": "ir_datasets", "dataset": ds_id}
        if options.get("run"):
            run = read_run(options["run"])
            provenance["first_stage"] = {"kind": "run", "path": str(options["run"])}
        else:
            run = {}
            for sd in ds.scoreddocs_iter():
                run.setdefault(sd.query_id, []).append((sd.doc_id, float(sd.score)))
            run = {qid: trec_eval_order(ranking) for qid, ranking in run.items()}  # as read_run: trec_eval's order
            provenance["first_stage"] = {"kind": "run", "path": f"ir_datasets:{ds_id} scoreddocs",
                                         "retriever": "the TREC organisers' BM25 top-1000"}
        queries, run = _restrict(name, queries, qrels, _truncate(run, depth))
        needed = sorted({docid for ranking in run.values() for docid, _ in ranking})
        store = ds.docs_store()
        passages = {d: Passage(d, doc.text) for d, doc in store.get_many(needed).items()}
    except RankrlError:
        raise
    except Exception as err:
        raise RankrlError(f"could not load {ds_id} with ir_datasets ({type(err).__name__}: {err}). It downloads "
                          f"MS MARCO on first use: check the network, or use local files (data_dir=...).") from err
    provenance.update(passages=_passages_note(run, passages), depth=depth,
                      queries=f"{len(queries)} judged queries")
    return Benchmark(name, queries, passages, qrels, run, {}, provenance)


def _trec_dl_pyserini(name: str, options: Mapping[str, Any]) -> Benchmark:
    depth = _depth(options)
    search = _import_optional("pyserini.search", "pip install pyserini (needs Java 21)",
                              f"loading {name} from Pyserini's prebuilt index")
    lucene = _import_optional("pyserini.search.lucene", "pip install pyserini (needs Java 21)",
                              f"loading {name} from Pyserini's prebuilt index")
    topics_id, qrels_id = _PYSERINI_IDS[name]
    k1, b = float(options.get("k1", 0.9)), float(options.get("b", 0.4))
    try:
        topics = search.get_topics(topics_id)
        raw_qrels = search.get_qrels(qrels_id)
        qrels = {str(q): {str(d): int(g) for d, g in docs.items()} for q, docs in raw_qrels.items()}
        queries = {str(q): Query(str(q), t["title"]) for q, t in topics.items()}
        searcher = lucene.LuceneSearcher.from_prebuilt_index(PYSERINI_INDEX)
        searcher.set_bm25(k1, b)
        provenance: dict[str, Any] = {"source": "pyserini", "index": PYSERINI_INDEX, "topics": topics_id,
                                      "qrels": qrels_id}
        if options.get("run"):
            run = read_run(options["run"])
            provenance["first_stage"] = {"kind": "run", "path": str(options["run"])}
        else:
            run = {}
            for qid in qrels:
                hits = searcher.search(queries[qid].text, k=depth)
                run[qid] = [(h.docid, float(h.score)) for h in hits]
            provenance["first_stage"] = {"kind": "bm25", "implementation": "pyserini (Lucene)", "k1": k1, "b": b,
                                         "k": depth}
        queries, run = _restrict(name, queries, qrels, _truncate(run, depth))
        passages: dict[str, Passage] = {}
        for docid in {d for ranking in run.values() for d, _ in ranking}:
            doc = searcher.doc(docid)
            if doc is not None:
                passages[docid] = Passage(docid, json.loads(doc.raw())["contents"])
    except RankrlError:
        raise
    except Exception as err:
        raise RankrlError(f"could not load {name} with Pyserini ({type(err).__name__}: {err}). The prebuilt "
                          f"index downloads on first use: check the network and Java 21, or use local files.") from err
    provenance.update(passages=_passages_note(run, passages), depth=depth, queries=f"{len(queries)} judged queries")
    return Benchmark(name, queries, passages, qrels, run, {}, provenance)


# --- BRIGHT ----------------------------------------------------------------------------------------------

def _load_bright(name: str, data_dir: str | Path | None, **options: Any) -> Benchmark:
    _no_unknown(options, {"source", "qrels", "first_stage", "run", "corpus", "depth", "long_documents",
                          "revision", "cache_dir", "reasoning_config", "k1", "b", "stemmer"}, name)
    source = options.get("source") or ("local" if data_dir is not None else "hf")
    qrels_variant = options.get("qrels", "original")
    if qrels_variant not in ("original", "fixed"):
        raise unknown_name("BRIGHT qrels variant", str(qrels_variant), ("original", "fixed"))
    if source == "local":
        if data_dir is None:
            raise RankrlError(f"benchmark {name} with source='local' needs data_dir (a folder with examples/, "
                              f"qrels/ and runs/)")
        return _bright_local(name, Path(data_dir), options)
    if source == "hf":
        return _bright_hf(name, options)
    raise unknown_name(f"source for {name}", str(source), ("local", "hf"))


def _first_stage_choice(options: Mapping[str, Any], default: str | None) -> str:
    choice = options.get("first_stage") or ("run" if options.get("run") else default)
    if choice is None:
        raise RankrlError("BRIGHT from the Hub needs an explicit first stage: first_stage='bm25' (BM25 on the "
                          "original query), 'bm25-reasoning' (BM25 on GPT-4's reasoning query) or 'run' with "
                          "run=PATH (a TREC run)")
    if choice not in BRIGHT_FIRST_STAGES:
        raise unknown_name("BRIGHT first stage", str(choice), BRIGHT_FIRST_STAGES)
    if choice == "run" and not options.get("run") and default != "run":
        raise RankrlError("first_stage='run' needs run=PATH (a TREC run file)")
    return choice


def _bright_protocol(qrels_variant: str) -> dict[str, Any]:
    return {"excluded_ids": "removed from each query's ranking before scoring ('N/A' = none)",
            "qrels": qrels_variant, "headline": "nDCG@10, plain mean of the 12 domains"}


def _bright_local(name: str, data_dir: Path, options: Mapping[str, Any]) -> Benchmark:
    domain = name.split("/", 1)[1]
    fdomain = bright_mod.file_domain(domain)
    folder = _resolve_dir(data_dir, "bright", "examples")
    depth = _depth(options)
    examples_path = folder / "examples" / f"topics.bright-{fdomain}-original.jsonl.gz"
    if not examples_path.is_file() and examples_path.with_suffix("").is_file():
        examples_path = examples_path.with_suffix("")
    if not examples_path.is_file():
        raise RankrlError(f"benchmark {name}: {examples_path} not found. Get BRIGHT's examples from Anserini "
                          f"(anserini-tools topics/topics.bright-{fdomain}-original.jsonl.gz) or load with "
                          f"source='hf' (xlangai/BRIGHT on the Hugging Face Hub).")
    examples = bright_mod.read_examples(examples_path)
    queries = bright_mod.queries_from_examples(examples)
    variant = options.get("qrels", "original")
    qrels_path = folder / "qrels" / (f"qrels.bright-{fdomain}.fixed.txt" if variant == "fixed"
                                     else f"qrels.bright-{fdomain}.txt")
    if qrels_path.is_file():
        qrels = read_qrels(qrels_path)
        qrels_source = str(qrels_path)
    elif variant == "original":
        qrels = bright_mod.qrels_from_examples(examples)
        qrels_source = f"gold_ids of {examples_path}"
    else:
        raise RankrlError(f"benchmark {name}: fixed qrels {qrels_path} not found (Waterloo's corrected qrels, "
                          f"anserini-tools qrels/qrels.bright-{fdomain}.fixed.txt); use qrels='original'")
    passages: dict[str, Passage] = {}
    provenance: dict[str, Any] = {"source": "local", "domain": domain, "examples": str(examples_path),
                                  "qrels": qrels_source, "qrels_variant": variant,
                                  "protocol": _bright_protocol(variant)}
    if options.get("corpus"):
        passages = read_corpus(options["corpus"])
        provenance["corpus"] = str(options["corpus"])
    choice = _first_stage_choice(options, "run")
    if choice == "run":
        run_path = Path(options["run"]) if options.get("run") else _find_bright_run(folder, domain, name)
        run = read_run(run_path)
        provenance["first_stage"] = {"kind": "run", "path": str(run_path)}
    else:
        if not passages:
            raise RankrlError(f"first_stage={choice!r} needs document texts: pass corpus=PATH (JSONL) or use "
                              f"source='hf'")
        bm25_queries = _reasoning_queries(examples) if choice == "bm25-reasoning" else queries
        run, provenance["first_stage"] = _bm25(bm25_queries, passages, depth, options)
        provenance["first_stage"]["query"] = ("reasoning field of the examples" if choice == "bm25-reasoning"
                                              else "original query")
    queries, run = _restrict(name, queries, qrels, _truncate(run, depth))
    provenance["passages"] = (_passages_note(run, passages) if passages else
                              "missing: BRIGHT document texts exist only on the Hugging Face Hub (xlangai/BRIGHT "
                              "'documents'); scoring works, reranking needs source='hf' or corpus=PATH")
    provenance["depth"] = depth
    return Benchmark(name, queries, passages, qrels, run, bright_mod.excluded_from_examples(examples), provenance)


def _find_bright_run(folder: Path, domain: str, name: str) -> Path:
    runs = sorted((folder / "runs").glob(f"{domain}.*.txt")) if (folder / "runs").is_dir() else []
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise RankrlError(f"benchmark {name}: no first-stage run for {domain} in {folder / 'runs'} (expected "
                          f"{domain}.<retriever>.txt). Pass run=PATH, or load with source='hf' and "
                          f"first_stage='bm25' or 'bm25-reasoning'.")
    raise RankrlError(f"benchmark {name}: several runs for {domain} in {folder / 'runs'} "
                      f"({', '.join(r.name for r in runs)}); choose one with run=PATH")


def _reasoning_queries(examples: list[bright_mod.BrightExample]) -> dict[str, Query]:
    missing = [ex.qid for ex in examples if not ex.reasoning or ex.reasoning == bright_mod.PLACEHOLDER]
    if missing:
        raise RankrlError(f"{len(missing)} BRIGHT queries have no reasoning text (e.g. {missing[:3]}); "
                          f"use first_stage='bm25' or source='hf' (gpt4_reason)")
    return {ex.qid: Query(ex.qid, ex.reasoning) for ex in examples}


def _bright_hf(name: str, options: Mapping[str, Any]) -> Benchmark:
    domain = name.split("/", 1)[1]
    depth = _depth(options)
    revision = options.get("revision") or bright_mod.HF_REVISION
    cache_dir = options.get("cache_dir")
    long_docs = bool(options.get("long_documents", False))
    if options.get("qrels", "original") != "original":
        raise RankrlError("the Hub has BRIGHT's original qrels only (gold_ids); for the fixed qrels use local "
                          "files (data_dir=...) with qrels='fixed'")
    choice = _first_stage_choice(options, None)
    examples = bright_mod.hf_examples(domain, revision=revision, cache_dir=cache_dir)
    queries = bright_mod.queries_from_examples(examples)
    qrels = bright_mod.qrels_from_examples(examples, long_documents=long_docs)
    passages = bright_mod.hf_documents(domain, long_documents=long_docs, revision=revision, cache_dir=cache_dir)
    provenance: dict[str, Any] = {"source": "hf", "repo": bright_mod.HF_REPO, "revision": revision,
                                  "domain": domain, "documents": "long_documents" if long_docs else "documents",
                                  "qrels": "gold_ids_long" if long_docs else "gold_ids", "qrels_variant": "original",
                                  "protocol": _bright_protocol("original")}
    if choice == "run":
        run = read_run(options["run"])
        provenance["first_stage"] = {"kind": "run", "path": str(options["run"])}
    else:
        bm25_queries = queries
        if choice == "bm25-reasoning":
            config = options.get("reasoning_config", "gpt4_reason")
            reasoned = bright_mod.hf_examples(domain, config=config, revision=revision, cache_dir=cache_dir)
            bm25_queries = {ex.qid: Query(ex.qid, ex.query) for ex in reasoned}
        run, provenance["first_stage"] = _bm25(bm25_queries, passages, depth, options)
        provenance["first_stage"]["query"] = (f"{options.get('reasoning_config', 'gpt4_reason')} query"
                                              if choice == "bm25-reasoning" else "original query")
    queries, run = _restrict(name, queries, qrels, _truncate(run, depth))
    provenance.update(passages=_passages_note(run, passages), depth=depth)
    return Benchmark(name, queries, passages, qrels, run, bright_mod.excluded_from_examples(examples), provenance)


# --- local:<dir> -----------------------------------------------------------------------------------------

def read_excluded(path: str | Path) -> dict[str, set[str]]:
    """``excluded.jsonl``: ``{"qid": ..., "docids": [...]}`` per line (BRIGHT-style exclusions)."""
    path = Path(path)
    excluded: dict[str, set[str]] = {}
    for lineno, record in iter_jsonl(path):
        qid = field_str(path, lineno, record, ("qid",), id_like=True)
        docids = record.get("docids")
        if not isinstance(docids, list) or not all(isinstance(d, str) and d for d in docids):
            raise DataFormatError(path, lineno, "field 'docids' must be a list of non-empty strings")
        if qid in excluded:
            raise DataFormatError(path, lineno, f"duplicate qid {qid!r}")
        excluded[qid] = {d for d in docids if d != bright_mod.PLACEHOLDER}
    return excluded


def _find(folder: Path, fname: str) -> Path | None:
    for candidate in (folder / fname, folder / f"{fname}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_local_benchmark(folder: Path, **options: Any) -> Benchmark:
    """A user's own collection: ``queries.jsonl``, ``corpus.jsonl``, ``qrels.txt``, optional ``run.trec`` (BM25
    over the corpus otherwise) and ``excluded.jsonl`` (JSONL files may be gzipped: ``corpus.jsonl.gz``)."""
    if not folder.is_dir():
        raise RankrlError(f"benchmark local:{folder}: folder not found")
    depth = _depth(options)
    paths = {key: _find(folder, fname) for key, fname in LOCAL_FILES.items()}
    absent = [LOCAL_FILES[k] for k in ("queries", "corpus", "qrels") if paths[k] is None]
    if absent:
        raise RankrlError(f"benchmark local:{folder}: missing {', '.join(absent)} (a local benchmark holds "
                          f"queries.jsonl, corpus.jsonl, qrels.txt, and optionally run.trec and excluded.jsonl)")
    queries = read_queries(paths["queries"])
    passages = read_corpus(paths["corpus"])
    qrels = read_qrels(paths["qrels"])
    name = f"local:{folder}"
    provenance: dict[str, Any] = {"source": "local", "folder": str(folder)}
    if paths["meta"] is not None:
        try:
            meta = json.loads(paths["meta"].read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataFormatError(paths["meta"], None, f"invalid JSON ({err})") from err
        if isinstance(meta, dict):
            provenance["origin"] = meta
    run_path = Path(options["run"]) if options.get("run") else paths["run"]
    if run_path is not None:
        run = read_run(run_path)
        provenance["first_stage"] = {"kind": "run", "path": str(run_path)}
    else:
        judged = {qid: q for qid, q in queries.items() if qid in qrels}
        run, provenance["first_stage"] = _bm25(judged, passages, depth, options)
    unknown_q = [qid for qid in run if qid not in queries]
    if unknown_q:
        raise RankrlError(f"{run_path}: run has queries not in {paths['queries']}: {', '.join(unknown_q[:5])}")
    missing_docs = sorted({d for ranking in run.values() for d, _ in ranking} - passages.keys())
    if missing_docs:
        raise RankrlError(f"{run_path}: {len(missing_docs)} run documents are not in {paths['corpus']} "
                          f"(e.g. {', '.join(missing_docs[:5])})")
    unjudged = [qid for qid in qrels if qid not in queries]
    if unjudged:
        raise RankrlError(f"{paths['qrels']}: {len(unjudged)} judged queries are not in {paths['queries']} "
                          f"(e.g. {', '.join(unjudged[:5])})")
    excluded = read_excluded(paths["excluded"]) if paths["excluded"] is not None else {}
    queries, run = _restrict(name, queries, qrels, _truncate(run, depth))
    provenance.update(passages="complete", depth=depth, queries=f"{len(queries)} judged queries")
    return Benchmark(name, queries, passages, qrels, run, excluded, provenance)


def write_local_benchmark(benchmark: Benchmark, folder: str | Path) -> Path:
    """Write ``benchmark`` in the ``local:<dir>`` format (every file atomic); returns the folder.

    Only the passages of the first stage and the qrels are written when the benchmark's corpus is larger.
    Benchmarks without passage texts (local BRIGHT) cannot be written: ``local:`` requires a corpus.
    """
    folder = Path(folder)
    needed = {d for ranking in benchmark.first_stage.values() for d, _ in ranking}
    missing = needed - benchmark.passages.keys()
    if missing:
        raise RankrlError(f"cannot write {benchmark.name} as local:{folder}: {len(missing)} candidate documents "
                          f"have no text ({benchmark.provenance.get('passages', 'passages missing')})")
    keep = needed | {d for judged in benchmark.qrels.values() for d in judged if d in benchmark.passages}
    corpus = [{"docid": p.docid, "text": p.text, **({"title": p.title} if p.title else {})}
              for d, p in benchmark.passages.items() if d in keep]
    write_jsonl(folder / LOCAL_FILES["queries"], ({"qid": q.qid, "text": q.text} for q in benchmark.queries.values()))
    write_jsonl(folder / LOCAL_FILES["corpus"], corpus)
    write_qrels(folder / LOCAL_FILES["qrels"], benchmark.qrels)
    write_run(folder / LOCAL_FILES["run"], benchmark.first_stage)
    if benchmark.excluded:
        write_jsonl(folder / LOCAL_FILES["excluded"],
                    ({"qid": q, "docids": sorted(ids)} for q, ids in benchmark.excluded.items()))
    atomic_write_text(folder / LOCAL_FILES["meta"],
                      json.dumps({"name": benchmark.name, "provenance": benchmark.provenance}, indent=2,
                                 default=str) + "\n")
    return folder

