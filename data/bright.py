"""BRIGHT: domain names, the ``examples`` records, and the loaders from local files or the Hugging Face Hub.

BRIGHT's evaluation protocol (reproduced by :func:`eval.metrics.evaluate` with ``excluded=``): qrels are
``{id: {gold_id: 1}}``; each query's ``excluded_ids`` are removed from the run before scoring (the placeholder
``"N/A"`` means none); nDCG@10 is averaged over the queries; the headline is the plain mean of the 12 domains.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankrl.core.errors import DataFormatError, RankrlError, unknown_name
from rankrl.data.jsonl import field_str, iter_jsonl
from rankrl.data.records import Passage, Qrels, Query

DOMAINS: tuple[str, ...] = (
    "biology", "earth_science", "economics", "psychology", "robotics", "stackoverflow", "sustainable_living",
    "leetcode", "pony", "aops", "theoremqa_theorems", "theoremqa_questions",
)
"""BRIGHT's 12 split names (underscores, as on the Hub)."""

LONG_DOCUMENT_DOMAINS: tuple[str, ...] = DOMAINS[:7] + ("pony",)
"""Domains that have a ``long_documents`` corpus (and ``gold_ids_long``)."""

HF_REPO = "xlangai/BRIGHT"
HF_REVISION = "3066d29c9651a576c8aba4832d249807b181ecae"
"""Pinned commit of ``xlangai/BRIGHT`` (the one MTEB's BRIGHT tasks pin); override with ``revision=``."""

PLACEHOLDER = "N/A"
"""``excluded_ids`` / ``reasoning`` / ``gold_answer`` value meaning "none"."""


def normalize_domain(name: str) -> str:
    """Accept ``earth_science`` or ``earth-science`` (file names use hyphens); return BRIGHT's split name."""
    domain = name.strip().lower().replace("-", "_")
    if domain not in DOMAINS:
        raise unknown_name("BRIGHT domain", name, DOMAINS)
    return domain


def file_domain(domain: str) -> str:
    """The hyphenated spelling used in Anserini's file names (``theoremqa-theorems``)."""
    return normalize_domain(domain).replace("_", "-")


@dataclass(frozen=True)
class BrightExample:
    """One record of BRIGHT's ``examples`` (or ``*_reason``) split."""

    qid: str
    query: str
    reasoning: str
    excluded_ids: tuple[str, ...]
    gold_ids: tuple[str, ...]
    gold_ids_long: tuple[str, ...] = ()
    gold_answer: str = ""

    @property
    def excluded(self) -> set[str]:
        """Excluded document ids with the ``"N/A"`` placeholder dropped."""
        return {d for d in self.excluded_ids if d != PLACEHOLDER}


def _id_list(record: dict[str, Any], key: str, where: tuple[str | Path, int], required: bool) -> tuple[str, ...]:
    path, lineno = where
    if key not in record:
        if required:
            raise DataFormatError(path, lineno, f"missing field {key!r}")
        return ()
    value = record[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise DataFormatError(path, lineno, f"field {key!r} must be a list of non-empty strings")
    return tuple(value)


def example_from_record(record: dict[str, Any], path: str | Path, lineno: int) -> BrightExample:
    """Validate one ``examples`` record (from a file line or a Hub row) into a :class:`BrightExample`."""
    qid = field_str(path, lineno, record, ("id",), id_like=True)
    query = field_str(path, lineno, record, ("query",))
    reasoning = field_str(path, lineno, record, ("reasoning",), allow_empty=True) if "reasoning" in record else ""
    answer = field_str(path, lineno, record, ("gold_answer",), allow_empty=True) if "gold_answer" in record else ""
    gold = _id_list(record, "gold_ids", (path, lineno), required=True)
    if not gold:
        raise DataFormatError(path, lineno, f"query {qid!r} has an empty 'gold_ids' list")
    return BrightExample(
        qid=qid, query=query, reasoning=reasoning,
        excluded_ids=_id_list(record, "excluded_ids", (path, lineno), required=True),
        gold_ids=gold, gold_ids_long=_id_list(record, "gold_ids_long", (path, lineno), required=False),
        gold_answer=answer,
    )


def read_examples(path: str | Path) -> list[BrightExample]:
    """Read BRIGHT ``examples`` JSONL (plain or gzip): ``query, reasoning, id, excluded_ids, gold_ids, ...``."""
    path = Path(path)
    examples: list[BrightExample] = []
    first_line: dict[str, int] = {}
    for lineno, record in iter_jsonl(path):
        example = example_from_record(record, path, lineno)
        if example.qid in first_line:
            raise DataFormatError(path, lineno, f"duplicate id {example.qid!r} (first on line {first_line[example.qid]})")
        first_line[example.qid] = lineno
        examples.append(example)
    return examples


def queries_from_examples(examples: Iterable[BrightExample]) -> dict[str, Query]:
    return {ex.qid: Query(ex.qid, ex.query) for ex in examples}


def qrels_from_examples(examples: Iterable[BrightExample], long_documents: bool = False) -> Qrels:
    """BRIGHT's own qrels: every gold id (``gold_ids_long`` for the long-document setting) has grade 1."""
    qrels: Qrels = {}
    for ex in examples:
        gold = ex.gold_ids_long if long_documents else ex.gold_ids
        if not gold:
            raise RankrlError(f"BRIGHT query {ex.qid!r} has no {'gold_ids_long' if long_documents else 'gold_ids'}")
        qrels[ex.qid] = {docid: 1 for docid in gold}
    return qrels


def excluded_from_examples(examples: Iterable[BrightExample]) -> dict[str, set[str]]:
    """qid -> excluded document ids (``"N/A"`` dropped; queries with nothing excluded are left out)."""
    return {ex.qid: ex.excluded for ex in examples if ex.excluded}


# --- Hugging Face Hub (network; imported lazily) -----------------------------------------------------------

def _load_hf_split(config: str, domain: str, revision: str, cache_dir: str | None) -> Any:
    try:
        import datasets
    except ImportError as err:  # pragma: no cover - datasets is a core dependency
        raise RankrlError("loading BRIGHT from the Hub needs the 'datasets' package: pip install datasets") from err
    try:
        return datasets.load_dataset(HF_REPO, config, split=domain, revision=revision, cache_dir=cache_dir)
    except Exception as err:  # network, auth, missing split: all become one clear message
        raise RankrlError(
            f"could not load {HF_REPO} config {config!r} split {domain!r} (revision {revision}) from the Hugging "
            f"Face Hub: {type(err).__name__}: {err}. Check the network (or HF_HUB_OFFLINE with a filled cache), or "
            f"load BRIGHT from local files with data_dir=... (examples + qrels + a run)") from err


def hf_examples(domain: str, *, config: str = "examples", revision: str = HF_REVISION,
                cache_dir: str | None = None) -> list[BrightExample]:
    """``examples`` (or a reasoning config such as ``gpt4_reason``) of one domain from the Hub, validated."""
    domain = normalize_domain(domain)
    rows = _load_hf_split(config, domain, revision, cache_dir)
    where = f"hf://{HF_REPO}@{revision}/{config}/{domain}"
    examples = [example_from_record(dict(row), where, i + 1) for i, row in enumerate(rows)]
    if not examples:
        raise RankrlError(f"{where}: no examples")
    return examples


def hf_documents(domain: str, *, long_documents: bool = False, revision: str = HF_REVISION,
                 cache_dir: str | None = None) -> dict[str, Passage]:
    """BRIGHT's ``documents`` (or ``long_documents``) corpus of one domain: ``{id, content}`` rows."""
    domain = normalize_domain(domain)
    config = "long_documents" if long_documents else "documents"
    if long_documents and domain not in LONG_DOCUMENT_DOMAINS:
        raise RankrlError(f"BRIGHT domain {domain!r} has no long_documents; those exist for: "
                          f"{', '.join(LONG_DOCUMENT_DOMAINS)}")
    rows = _load_hf_split(config, domain, revision, cache_dir)
    where = f"hf://{HF_REPO}@{revision}/{config}/{domain}"
    passages: dict[str, Passage] = {}
    for i, row in enumerate(rows):
        docid = field_str(where, i + 1, row, ("id",), id_like=True)
        passages[docid] = Passage(docid, field_str(where, i + 1, row, ("content",), allow_empty=True))
    return passages
