"""TREC text formats: qrels (``qid iter docid grade``), runs (6 columns) and topics (``qid<TAB>text``).

Readers validate every line and stop at the first bad record with a ``DataFormatError`` naming the file and line.
``write_run`` writes strictly decreasing scores: trec_eval (and pytrec_eval) order a run by score, compared in
single precision, and break ties by docid, so a run whose scores tie would be scored in an order other than the
one rankrl produced.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rankrl.core.atomic import atomic_open
from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data.jsonl import iter_lines
from rankrl.data.records import Qrels, Query, Run

log = logging.getLogger(__name__)


def read_qrels(path: str | Path) -> Qrels:
    """Read TREC qrels ``qid iter docid grade`` (whitespace separated, integer grades).

    A (qid, docid) pair judged twice with different grades is an error; an exact repeat is ignored.
    """
    path = Path(path)
    qrels: Qrels = {}
    first_line: dict[tuple[str, str], int] = {}
    for lineno, text in iter_lines(path):
        parts = text.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise DataFormatError(path, lineno, f"expected 4 columns 'qid iter docid grade', found {len(parts)}")
        qid, _, docid, grade_text = parts
        try:
            grade = int(grade_text)
        except ValueError:
            raise DataFormatError(path, lineno, f"relevance grade {grade_text!r} is not an integer") from None
        judged = qrels.setdefault(qid, {})
        if docid in judged and judged[docid] != grade:
            first = first_line[(qid, docid)]
            raise DataFormatError(path, lineno, f"query {qid!r} document {docid!r} judged {judged[docid]} on "
                                                f"line {first} and {grade} here")
        judged[docid] = grade
        first_line.setdefault((qid, docid), lineno)
    if not qrels:
        raise DataFormatError(path, None, "empty file: no qrels lines 'qid iter docid grade'")
    return qrels


def read_run(path: str | Path) -> Run:
    """Read a TREC run ``qid Q0 docid rank score tag``; each query's list is sorted by descending score.

    The rank column must be an integer but is not used for ordering (as in trec_eval); equal scores keep
    their order in the file. A document listed twice for one query is an error.
    """
    path = Path(path)
    run: dict[str, list[tuple[str, float]]] = {}
    seen: dict[tuple[str, str], int] = {}
    for lineno, text in iter_lines(path):
        parts = text.split()
        if not parts:
            continue
        if len(parts) != 6:
            raise DataFormatError(path, lineno, f"expected 6 columns 'qid Q0 docid rank score tag', found {len(parts)}")
        qid, _, docid, rank_text, score_text, _ = parts
        try:
            int(rank_text)
        except ValueError:
            raise DataFormatError(path, lineno, f"rank {rank_text!r} is not an integer") from None
        try:
            score = float(score_text)
        except ValueError:
            raise DataFormatError(path, lineno, f"score {score_text!r} is not a number") from None
        if not math.isfinite(score):
            raise DataFormatError(path, lineno, f"score {score_text!r} is not a finite number")
        key = (qid, docid)
        if key in seen:
            raise DataFormatError(path, lineno, f"document {docid!r} listed twice for query {qid!r} "
                                                f"(first on line {seen[key]})")
        seen[key] = lineno
        run.setdefault(qid, []).append((docid, score))
    if not run:
        raise DataFormatError(path, None, "empty file: no run lines 'qid Q0 docid rank score tag'")
    for ranking in run.values():
        ranking.sort(key=lambda item: -item[1])  # stable: ties keep file order
    return run


def read_topics(path: str | Path) -> dict[str, Query]:
    """Read topics ``qid<TAB>query text`` (one per line, as in Anserini's ``topics.*.txt``)."""
    path = Path(path)
    topics: dict[str, Query] = {}
    first_line: dict[str, int] = {}
    for lineno, text in iter_lines(path):
        if not text.strip():
            continue
        if "\t" not in text:
            raise DataFormatError(path, lineno, "expected 'qid<TAB>query text', found no tab")
        qid, query = text.split("\t", 1)
        qid, query = qid.strip(), query.strip()
        if not qid or any(ch.isspace() for ch in qid):
            raise DataFormatError(path, lineno, f"invalid query id {qid!r}")
        if not query:
            raise DataFormatError(path, lineno, f"query {qid!r} has empty text")
        if qid in topics:
            raise DataFormatError(path, lineno, f"duplicate query id {qid!r} (first on line {first_line[qid]})")
        topics[qid] = Query(qid, query)
        first_line[qid] = lineno
    if not topics:
        raise DataFormatError(path, None, "empty file: no topic lines 'qid<TAB>text'")
    return topics


def _check_token(kind: str, value: str) -> None:
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        raise RankrlError(f"cannot write a TREC file: {kind} {value!r} must be a non-empty string without spaces")


def strictly_decreasing(scores: list[float]) -> bool:
    """True when every score is finite and smaller than the one before it *as trec_eval compares them*.

    trec_eval (and so pytrec_eval) keeps scores in a C ``float``: 1.0000001 and 1.00000011 are a tie there,
    broken by docid. The check is therefore done in single precision.
    """
    values = np.asarray(scores, dtype=np.float64)
    with np.errstate(over="ignore"):
        single = values.astype(np.float32)
    return bool(np.isfinite(single).all() and (single[:-1] > single[1:]).all())


def rank_scores(n: int) -> list[float]:
    """Scores ``n, n-1, ..., 1``: strictly decreasing, used when a ranking's own scores tie."""
    return [float(n - i) for i in range(n)]


def write_run(path: str | Path, run: Mapping[str, list[tuple[str, float]]], tag: str = "rankrl") -> None:
    """Write a TREC run atomically; the list order of each query is the ranking.

    When a query's scores are not strictly decreasing in single precision (ties, scores too close for
    trec_eval's C ``float``, or an order that is not by score), they are replaced by ``n, n-1, ..., 1`` so that trec_eval's score sort reproduces the list order exactly.
    Everything is validated before the file is created.
    """
    _check_token("tag", tag)
    lines: list[str] = []
    rescored: list[str] = []
    for qid, ranking in run.items():
        _check_token("query id", qid)
        docids = [docid for docid, _ in ranking]
        for docid in docids:
            _check_token("document id", docid)
        if len(set(docids)) != len(docids):
            dup = next(d for d in docids if docids.count(d) > 1)
            raise RankrlError(f"cannot write run {path}: document {dup!r} appears twice for query {qid!r}")
        try:
            scores = [float(score) for _, score in ranking]
        except (TypeError, ValueError) as err:
            raise RankrlError(f"cannot write run {path}: query {qid!r} has a non-numeric score ({err})") from err
        if not strictly_decreasing(scores):
            scores = rank_scores(len(scores))
            rescored.append(qid)
        lines.extend(f"{qid} Q0 {docid} {rank} {score!r} {tag}\n"
                     for rank, (docid, score) in enumerate(zip(docids, scores), 1))
    if rescored:
        log.info("run %s: %d queries had tied or unordered scores; wrote rank-based scores n..1 in list order",
                 path, len(rescored))
    with atomic_open(path, "w") as handle:
        handle.writelines(lines)


def write_qrels(path: str | Path, qrels: Mapping[str, Mapping[str, int]]) -> None:
    """Write TREC qrels ``qid 0 docid grade`` atomically."""
    lines: list[str] = []
    for qid, judged in qrels.items():
        _check_token("query id", qid)
        for docid, grade in judged.items():
            _check_token("document id", docid)
            if isinstance(grade, bool) or not isinstance(grade, int):
                raise RankrlError(f"cannot write qrels {path}: grade {grade!r} for {qid}/{docid} is not an integer")
            lines.append(f"{qid} 0 {docid} {grade}\n")
    with atomic_open(path, "w") as handle:
        handle.writelines(lines)


def write_topics(path: str | Path, queries: Mapping[str, Query]) -> None:
    """Write topics ``qid<TAB>text`` atomically (newlines and tabs in the text become spaces)."""
    lines = []
    for qid, query in queries.items():
        _check_token("query id", qid)
        lines.append(f"{qid}\t{' '.join(query.text.split())}\n")
    with atomic_open(path, "w") as handle:
        handle.writelines(lines)
