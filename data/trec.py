"""TREC text formats: qrels (``qid iter docid grade``), runs (6 columns) and topics (``qid<TAB>text``).

Readers validate every line and stop at the first bad record with a ``DataFormatError`` naming the file and line.
``write_run`` writes strictly decreasing scores: trec_eval (and pytrec_eval) order a run by score, compared in
single precision, and break ties by docid, so a run whose scores tie would be scored in an order other than the
one rankrl produced.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rankrl.core.atomic import atomic_open
from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data.jsonl import iter_lines
from rankrl.data.records import Qrels, Query, Run

log = logging.getLogger(__name__)

MAX_ABS_GRADE = 1000
"""Largest relevance grade (in absolute value) a qrels file may hold. trec_eval (and pytrec_eval, which embeds it)
keeps one counter per grade level from 0 to the largest grade of every query (``rel_levels`` in
usnistgov/trec_eval@0e041ae2351fac4ab44c7cab9ff9a8fbcff1ac7b:form_res_rels.c), so a grade of 10^8 costs ~800 MB and
3*10^9 tens of GB; 10^20 overflows its C ``long``. Published collections grade on small scales (TREC DL 0-3, TREC Web
-2..4, BRIGHT 0-1, percentages at most 0-100): 1000 leaves room for any of them, and a grade beyond it is a damaged
file, not a judgement."""


def read_qrels(path: str | Path) -> Qrels:
    """Read TREC qrels ``qid iter docid grade`` (whitespace separated, integer grades).

    A (qid, docid) pair judged twice with different grades is an error; an exact repeat is ignored.
    """
    path = Path(path)
    qrels: Qrels = {}
    first_line: dict[tuple[str, str], int] = {}
    for lineno, text in iter_lines(path):
        parts = text.split()
        if not parts or parts[0].startswith("#"):  # trec_eval skips '#' comment lines (get_qrels.c)
            continue
        if len(parts) != 4:
            raise DataFormatError(path, lineno, f"expected 4 columns 'qid iter docid grade', found {len(parts)}")
        qid, _, docid, grade_text = parts
        try:
            grade = int(grade_text)
        except ValueError:
            raise DataFormatError(path, lineno, f"relevance grade {grade_text!r} is not an integer") from None
        if abs(grade) > MAX_ABS_GRADE:
            raise DataFormatError(path, lineno, f"relevance grade {grade_text} is outside -{MAX_ABS_GRADE}..{MAX_ABS_GRADE}: "
                                                "qrels grades are small integers (TREC DL uses 0-3); a grade this "
                                                "large is a damaged file and would make trec_eval allocate one "
                                                "counter per grade level")
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

    The rank column must be an integer but is not used for ordering (as in trec_eval). Each query's list is in
    exactly the order trec_eval scores it (``trec_eval_order``): score compared in single precision, descending,
    ties broken by docid descending; so the candidates a reranker sees are the first stage that is scored, and tied
    scores cannot make a false gain. A document listed twice for one query is an error.
    """
    path = Path(path)
    run: dict[str, list[tuple[str, float]]] = {}
    seen: dict[tuple[str, str], int] = {}
    wide: list[int] = []  # lines whose docid holds spaces (more than 6 columns)
    for lineno, text in iter_lines(path):
        parts = text.split()
        if not parts or parts[0].startswith("#"):  # trec_eval skips '#' comment lines (get_trec_results.c)
            continue
        if len(parts) > 6:
            parts = _wide_run_line(text)
            wide.append(lineno)
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
    if wide:
        log.warning("run %s: %d line(s) have more than 6 columns (first: line %d); read as trec_eval does when "
                    "columns 4-5 are rank and score (the rest trails the tag), else the docid is the text between Q0 "
                    "and the last three columns (rank score tag)", path, len(wide), wide[0])
    for qid, ranking in run.items():
        run[qid] = trec_eval_order(ranking)
    return run


_WIDE_LINE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S.*?)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def _number_columns(rank: str, score: str) -> bool:
    try:
        int(rank)
        float(score)
    except ValueError:
        return False
    return True


def _wide_run_line(text: str) -> list[str]:
    """The 6 columns of a run line with more than 6 fields.

    qid and Q0 are taken from the left and rank, score and tag from the right, the docid being what lies between
    (spaces kept as written): ReasonRank's BRIGHT stackoverflow run lists
    ``pytorch_torch_tensor_functions/Memory Management_2_0.txt``, and ``write_run`` writes such ids the same way.
    When the right end holds no rank and score but the 4th and 5th fields do, the extra fields trail the tag and
    are ignored, as trec_eval does (its own ``test/results.trunc`` has "more junk at end of lines").
    """
    parts = text.split()
    match = _WIDE_LINE.match(text)
    if match and _number_columns(match.group(4), match.group(5)):
        return list(match.groups())
    if _number_columns(parts[3], parts[4]):
        return parts[:6]
    return list(match.groups()) if match else parts


def trec_eval_order(ranking: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """``(docid, score)`` pairs in the order trec_eval ranks them: score descending as a C ``float`` (single
    precision), ties by docid descending in byte order (``comp_sim_docno`` in
    usnistgov/trec_eval@0e041ae2351fac4ab44c7cab9ff9a8fbcff1ac7b:form_res_rels.c: ``strcmp(p2->docno, p1->docno)``;
    Python compares str by code point, which is UTF-8 byte order). The file order of tied documents plays no
    part, so candidates taken from this list are the same first stage trec_eval scores."""
    with np.errstate(over="ignore"):
        single = np.asarray([score for _, score in ranking], dtype=np.float64).astype(np.float32).tolist()
    order = sorted(range(len(ranking)), key=lambda i: (single[i], ranking[i][0]), reverse=True)
    return [ranking[i] for i in order]


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


def _check_run_docid(value: str) -> None:
    """A run's docid may hold single inner spaces (BRIGHT stackoverflow ids do): ``read_run`` reads such a line
    back from the right. Tabs, newlines, leading/trailing or doubled spaces would change the id or the line."""
    if (not isinstance(value, str) or not value or value != value.strip() or "  " in value
            or any(ch.isspace() and ch != " " for ch in value)):
        raise RankrlError(f"cannot write a TREC run: document id {value!r} must be a non-empty string without tabs, "
                          "newlines, leading/trailing or doubled spaces")


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
            _check_run_docid(docid)
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
