"""Ranking metrics with trec_eval semantics, computed by pytrec_eval, named in ir_measures style.

Supported names (``k`` a positive integer, ``(rel=N)`` optional on binary measures):

=============  ==========================  =============================================================
name           pytrec_eval measure         meaning
=============  ==========================  =============================================================
``nDCG@k``     ``ndcg_cut.k``              nDCG of the top k, gain = raw grade (trec_eval), log2 discount
``nDCG``       ``ndcg``                    nDCG over the whole ranking
``RR@k``       ``recip_rank`` (cut at k)   1/rank of the first relevant document if it is in the top k, else 0
``RR``         ``recip_rank``              1/rank of the first relevant document
``R@k``        ``recall.k``                relevant documents in the top k / all relevant documents
``P@k``        ``P.k``                     relevant documents in the top k / k
``AP``         ``map``                     average precision over the whole ranking
``AP@k``       ``map_cut.k``               average precision of the top k
``Success@k``  ``success.k``               1 if a relevant document is in the top k, else 0
``Rprec``      ``Rprec``                   precision at rank R, R = number of relevant documents
``Bpref``      ``bpref``                   Buckley & Voorhees' bpref (judged non-relevant above relevant)
``Judged@k``   (computed here)             share of the top k that is judged at any grade (ir_measures)
=============  ==========================  =============================================================

"Relevant" for the binary measures (RR, R, P, AP) means grade >= ``rel_level`` (TREC DL uses 2, i.e.
``trec_eval -l 2``); nDCG always uses the raw grades. Rankings are ordered as trec_eval orders them: by
descending score compared in single precision (trec_eval stores scores in a C ``float``), ties broken by
descending docid (rankrl writes scores strictly decreasing in single precision, so its own runs never depend on
that tie-break). Queries judged in the qrels but absent from the run score 0 on every measure
and are listed in a warning (trec_eval ``-c``); queries in the run but not in the qrels are ignored.

``depth`` (trec_eval ``-M``) keeps only the first ``depth`` documents of each ranking in that order before any
measure sees it. ``Judged@k`` follows ir_measures (0.4.3, ``providers/judged_provider.py``): judged documents among
the top k divided by k, or by the ranking's length when it holds fewer than k (so a short run is not penalised as
P@k would be); trec_eval has no such measure, so it is computed here and checked against ir_measures in the tests. The
other measures are checked against usnistgov/trec_eval's own ``test/`` expected outputs
(tests/eval/fixtures/trec_eval/README.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rankrl.core.errors import RankrlError
from rankrl.data.trec import trec_eval_order

log = logging.getLogger(__name__)

DEFAULT_METRICS: tuple[str, ...] = ("nDCG@5", "nDCG@10", "nDCG@20", "RR@10", "R@10", "R@100", "AP")
BRIGHT_PLACEHOLDER = "N/A"
"""BRIGHT's ``excluded_ids`` placeholder meaning "nothing excluded"."""

_NAME_RE = re.compile(r"^(?P<family>nDCG|RR|R|P|AP|Success|Judged|Rprec|Bpref)(?:\(rel=(?P<rel>-?\d+)\))?"
                      r"(?:@(?P<k>\d+))?$")
_ALIASES = {"ndcg": "nDCG", "rr": "RR", "mrr": "RR", "r": "R", "recall": "R", "p": "P", "ap": "AP", "map": "AP",
            "success": "Success", "judged": "Judged", "rprec": "Rprec", "bpref": "Bpref"}
_NEEDS_CUTOFF = {"R", "P", "Success", "Judged"}
_NO_CUTOFF = {"Rprec", "Bpref"}
_BINARY = {"RR", "R", "P", "AP", "Success", "Rprec", "Bpref"}


@dataclass(frozen=True)
class Measure:
    """One parsed metric name: its family, cutoff (None = whole ranking) and relevance level (None = default)."""

    family: str
    cutoff: int | None
    rel: int | None

    @property
    def name(self) -> str:
        rel = f"(rel={self.rel})" if self.rel is not None else ""
        cut = f"@{self.cutoff}" if self.cutoff is not None else ""
        return f"{self.family}{rel}{cut}"

    def pytrec_measure(self) -> str:
        """The pytrec_eval measure computing this one (RR@k is derived from ``recip_rank``)."""
        family, k = self.family, self.cutoff
        if family == "nDCG":
            return "ndcg" if k is None else f"ndcg_cut_{k}"
        if family == "RR":
            return "recip_rank"
        if family == "R":
            return f"recall_{k}"
        if family in ("P", "Judged"):  # Judged@k is P@k over "judged" (see evaluate)
            return f"P_{k}"
        if family == "Success":
            return f"success_{k}"
        if family == "Rprec":
            return "Rprec"
        if family == "Bpref":
            return "bpref"
        return "map" if k is None else f"map_cut_{k}"


def parse_metric(name: str) -> Measure:
    """Parse an ir_measures-style name (``nDCG@10``, ``RR@10``, ``R(rel=2)@100``, ``AP``...).

    Family names are case-insensitive and ``MRR``/``MAP``/``Recall`` are accepted as aliases.
    """
    text = name.strip()
    head = re.match(r"^([A-Za-z]+)", text)
    if head and head.group(1).lower() in _ALIASES:
        text = _ALIASES[head.group(1).lower()] + text[head.end():]
    match = _NAME_RE.match(text)
    if not match:
        raise RankrlError(f"unknown metric {name!r}; use nDCG@k, nDCG, RR@k, RR, R@k, P@k, AP, AP@k, Success@k, "
                          f"Judged@k, Rprec or Bpref (optionally with (rel=N) on the binary ones), e.g. nDCG@10, "
                          f"RR@10, R(rel=2)@100")
    family, rel, k = match.group("family"), match.group("rel"), match.group("k")
    cutoff = int(k) if k is not None else None
    if cutoff is not None and cutoff < 1:
        raise RankrlError(f"metric {name!r}: the cutoff must be a positive integer")
    if family in _NEEDS_CUTOFF and cutoff is None:
        raise RankrlError(f"metric {name!r} needs a cutoff, e.g. {family}@10")
    if family in _NO_CUTOFF and cutoff is not None:
        raise RankrlError(f"metric {name!r}: {family} takes no cutoff (it is defined over the whole ranking)")
    if rel is not None and family not in _BINARY:
        raise RankrlError(f"metric {name!r}: {family} does not use a relevance level; (rel=N) applies to RR, R, P, "
                          f"AP, Success, Rprec and Bpref only")
    return Measure(family, cutoff, int(rel) if rel is not None else None)


@dataclass
class Evaluation:
    """Metric means over the judged queries, per-query values, and the judged queries the run missed."""

    mean: dict[str, float]
    per_query: dict[str, dict[str, float]]
    missing: list[str] = field(default_factory=list)
    rel_level: int = 1

    @property
    def num_queries(self) -> int:
        return len(self.per_query)


RunLike = Mapping[str, Sequence[tuple[str, float]] | Mapping[str, float]]
"""A ``Run`` (qid -> [(docid, score)]) or pytrec_eval's own form (qid -> {docid: score}), used as is."""


# Documents converted and scored per pytrec_eval call. pytrec_eval only reads dicts, so a Run's lists must be
# converted; done a piece at a time, the new dicts and the docid/score objects they point to are still in the CPU
# cache when pytrec_eval reads them, which cuts the added cost by about a third against converting the whole run
# first (measured in benchmarks/metrics.py). Per-query values do not depend on how the run is split.
_PIECE_DOCS = 4096


def _pieces(run: RunLike, size: int) -> Iterator[list[tuple[str, Any]]]:
    """``run.items()`` in consecutive pieces of about ``size`` documents (whole queries)."""
    piece: list[tuple[str, Any]] = []
    docs = 0
    for item in run.items():
        piece.append(item)
        try:
            docs += len(item[1])
        except TypeError:  # not a ranking at all: _run_dict reports it
            docs += 1
        if docs >= size:
            yield piece
            piece, docs = [], 0
    if piece:
        yield piece


def _run_dict(qrels: Mapping[str, Mapping[str, int]], items: Iterable[tuple[str, Any]],
              excluded: Mapping[str, Iterable[str]] | None) -> dict[str, dict[str, float]]:
    """pytrec_eval's run input for ``items`` (qid, ranking) pairs of a run, restricted to judged queries, with
    excluded documents removed.

    Building these dicts is the main cost rankrl adds to pytrec_eval (see benchmarks/metrics.py); rankings
    that already are dicts are passed through without a copy unless documents must be excluded.
    """
    items = list(items)
    if not excluded:
        # The common case in one comprehension (a Python-level loop with per-query branches costs ~10% more);
        # anything unusual (a document listed twice, an empty or malformed ranking) takes the loop below, which
        # keeps or raises exactly as it always has.
        try:
            fast = {qid: r if isinstance(r, dict) else dict(r) for qid, r in items if qid in qrels}
        except Exception:  # noqa: BLE001 - re-raised by the loop below, in run order
            fast = None
        if (
            fast is not None
            and all(fast.values())
            and list(map(len, fast.values())) == [len(r) for qid, r in items if qid in qrels]
        ):
            return fast
    out: dict[str, dict[str, float]] = {}
    for qid, ranking in items:
        if qid not in qrels:
            continue
        drop = excluded.get(qid) if excluded else None
        if isinstance(ranking, dict):
            scores = dict(ranking) if drop else ranking
        else:
            scores = dict(ranking)
            if len(scores) != len(ranking):
                raise RankrlError(f"run lists a document twice for query {qid!r}")
        if drop:
            for docid in drop:
                if docid != BRIGHT_PLACEHOLDER:
                    scores.pop(docid, None)
        if scores:
            out[qid] = scores
    return out


def evaluate(qrels: Mapping[str, Mapping[str, int]], run: RunLike,
             metrics: Sequence[str] = DEFAULT_METRICS, rel_level: int = 1,
             excluded: Mapping[str, Iterable[str]] | None = None, depth: int | None = None) -> Evaluation:
    """Score ``run`` against ``qrels`` with trec_eval semantics (see the module docstring).

    ``excluded`` (BRIGHT protocol) maps a qid to documents removed from its ranking before scoring; the
    placeholder ``"N/A"`` is ignored. ``depth`` (trec_eval ``-M``) keeps the first ``depth`` documents of each
    ranking (after the exclusion). Means are over every query with at least one judgement in the qrels.
    """
    import pytrec_eval  # C extension, loaded on first use so that importing this module stays cheap

    if any(not judged for judged in qrels.values()):  # a query without judgements is not a judged query
        qrels = {qid: judged for qid, judged in qrels.items() if judged}
    if not qrels:
        raise RankrlError("cannot evaluate: the qrels are empty")
    if isinstance(metrics, str):
        metrics = (metrics,)
    measures = [parse_metric(m) for m in metrics]
    if not measures:
        raise RankrlError("cannot evaluate: no metrics requested")
    names = [m.name for m in measures]
    if len(set(names)) != len(names):
        raise RankrlError(f"metric listed twice: {sorted({n for n in names if names.count(n) > 1})}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise RankrlError(f"depth must be a positive integer (trec_eval -M), got {depth!r}")
    judged_cutoffs = sorted({m.cutoff for m in measures if m.family == "Judged" and m.cutoff is not None})
    judged_values: dict[str, dict[int, float]] = {}

    # pytrec_eval takes one relevance level per evaluator: group measures by their level. nDCG ignores the
    # level (it uses raw grades), so it joins the default group.
    groups: dict[int, set[str]] = {}
    for m in measures:
        if m.family == "Judged":  # computed here, from the ordered rankings
            continue
        level = m.rel if m.rel is not None else rel_level
        groups.setdefault(level if m.family in _BINARY else rel_level, set()).add(m.pytrec_measure())
    results: dict[int, dict[str, dict[str, float]]] = {level: {} for level in groups}
    evaluators: dict[int, pytrec_eval.RelevanceEvaluator] = {}
    scored: set[str] = set()  # judged queries with a (non-empty) ranking
    pieces = _pieces(run, _PIECE_DOCS)
    for piece in pieces:
        part = _run_dict(qrels, piece, excluded)
        if not part:
            continue
        if depth is not None or judged_cutoffs:
            ordered = {qid: trec_eval_order(list(scores.items())) for qid, scores in part.items()}
            if depth is not None:
                part = {qid: dict(ranking[:depth]) for qid, ranking in ordered.items()}
            for qid, ranking in ordered.items():
                judged = qrels[qid]
                top = ranking[:depth] if depth is not None else ranking
                judged_values[qid] = {
                    k: sum(docid in judged for docid, _ in top[:k]) / min(k, len(top)) for k in judged_cutoffs
                }
        try:
            if not evaluators:  # built on the first ranking to score, as pytrec_eval needs at least one
                qrels_dict = (
                    qrels if isinstance(qrels, dict) else {qid: dict(judged) for qid, judged in qrels.items()}
                )
                evaluators = {
                    level: pytrec_eval.RelevanceEvaluator(qrels_dict, strings, relevance_level=level)
                    for level, strings in groups.items()
                }
            for level, evaluator in evaluators.items():
                results[level].update(evaluator.evaluate(part))
        except Exception:
            # A malformed ranking later in the run is reported first, as when the whole run was converted first.
            for rest in pieces:
                _run_dict(qrels, rest, excluded)
            raise
        scored.update(part)
    missing = [qid for qid in qrels if qid not in scored]

    # Per-query values, renamed to ir_measures names: one column per measure (in qrels order), then one dict per
    # query; comprehensions because this runs for every query.
    columns: list[list[float]] = []
    for m in measures:
        if m.family == "Judged":
            columns.append([judged_values[qid][m.cutoff] if qid in judged_values else 0.0 for qid in qrels])
            continue
        level = (m.rel if m.rel is not None else rel_level) if m.family in _BINARY else rel_level
        rows, key = results.get(level, {}), m.pytrec_measure()
        column = [rows[qid][key] if qid in rows else 0.0 for qid in qrels]
        if m.family == "RR" and m.cutoff is not None:
            # RR@k from trec_eval's recip_rank = 1/r (r = rank of the first relevant document in trec_eval's
            # order): identical to recip_rank on the run cut at k (checked in the tests), without a second pass.
            cutoff = m.cutoff
            column = [0.0 if value > 0.0 and round(1.0 / value) > cutoff else value for value in column]
        columns.append(column)
    per_query: dict[str, dict[str, float]] = {
        qid: dict(zip(names, values)) for qid, values in zip(qrels, zip(*columns))
    }
    n = len(per_query)
    mean = {name: sum(column) / n for name, column in zip(names, columns)}
    if missing:
        shown = ", ".join(missing[:20]) + (f", ... ({len(missing) - 20} more)" if len(missing) > 20 else "")
        log.warning("%d of %d judged queries have no ranking in the run and score 0: %s", len(missing), n, shown)
    return Evaluation(mean=mean, per_query=per_query, missing=missing, rel_level=rel_level)


@dataclass(frozen=True)
class ExclusionSummary:
    """What BRIGHT's ``excluded_ids`` did to a run: documents removed, and run queries the examples do not cover.

    ``uncovered`` non-empty usually means the examples file is another domain's (its ids do not match the run's).
    """

    removed: int
    queries_affected: int
    uncovered: list[str]


def exclusion_summary(run: RunLike, excluded: Mapping[str, Iterable[str]], example_qids: Iterable[str]
                      ) -> ExclusionSummary:
    """Count the run's (query, document) pairs that ``excluded`` removes, and list run queries with no example."""
    known = set(example_qids)
    removed = affected = 0
    for qid, ranking in run.items():
        drop = {d for d in excluded.get(qid, ()) if d != BRIGHT_PLACEHOLDER}
        if not drop:
            continue
        docids = ranking.keys() if isinstance(ranking, Mapping) else (docid for docid, _ in ranking)
        hits = sum(docid in drop for docid in docids)
        removed += hits
        affected += hits > 0
    return ExclusionSummary(removed, affected, [qid for qid in run if qid not in known])
