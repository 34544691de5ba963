"""BM25 first stage over an in-memory corpus with ``bm25s`` (pure Python/numpy, no Java).

The defaults (k1=0.9, b=0.4, Lucene's idf) are Pyserini's MS MARCO settings. Pyserini also Porter-stems;
pass ``stemmer="english"`` (Snowball, through PyStemmer) to come closer to it. Every setting that changes the
ranking is returned in the params dict so callers can record it in ``Benchmark.provenance``.

Ties are broken by docid (ascending) so the output does not depend on bm25s' partial sort: the same inputs
always give the same run.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata

import numpy as np

from rankrl.core.errors import RankrlError
from rankrl.data.records import Passage, Query, Run


def _text(value: Query | Passage | str) -> str:
    if isinstance(value, Passage):
        return value.render()
    if isinstance(value, Query):
        return value.text
    return str(value)


def _make_stemmer(name: str | None):
    if name is None:
        return None
    try:
        import Stemmer  # PyStemmer (Snowball)
    except ImportError as err:  # pragma: no cover - PyStemmer is a pinned dependency
        raise RankrlError("BM25 stemming needs PyStemmer: pip install PyStemmer") from err
    try:
        return Stemmer.Stemmer(name).stemWords
    except KeyError as err:
        valid = ", ".join(Stemmer.algorithms())
        raise RankrlError(f"unknown BM25 stemmer {name!r}; valid choices: {valid}") from err


def _top_k(scores: np.ndarray, docids: np.ndarray, k: int) -> list[tuple[str, float]]:
    """Top ``k`` documents with a positive score, by descending score then ascending docid."""
    positive = np.flatnonzero(scores > 0)
    if positive.size > k:
        # Everything scoring at least the k-th best score, so ties at the cut are resolved by docid below.
        kth = np.partition(scores[positive], positive.size - k)[positive.size - k]
        positive = positive[scores[positive] >= kth]
    order = np.lexsort((docids[positive], -scores[positive]))[:k]
    chosen = positive[order]
    return [(str(docids[i]), float(scores[i])) for i in chosen]


def bm25_run(
    queries: Mapping[str, Query | str],
    passages: Mapping[str, Passage | str],
    k: int = 100,
    k1: float = 0.9,
    b: float = 0.4,
    stemmer: str | None = None,
    *,
    stopwords: str | None = "en",
    method: str = "lucene",
    show_progress: bool = False,
) -> tuple[Run, dict[str, object]]:
    """Rank ``passages`` for every query with BM25 and keep the top ``k`` with a positive score.

    Passages are indexed as ``Passage.render()`` (title, then text). A query sharing no term with the corpus
    gets an empty list. Returns ``(run, params)``; ``params`` names the library, its version and every
    setting.
    """
    if k < 1:
        raise RankrlError(f"BM25 k must be >= 1, got {k}")
    if k1 < 0 or not 0 <= b <= 1:
        raise RankrlError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
    if not passages:
        raise RankrlError("BM25 needs at least one passage to index; the corpus is empty")
    import bm25s  # imported here: only the first stage needs it

    stem = _make_stemmer(stemmer)
    docids = np.array(list(passages), dtype=str)
    corpus_tokens = bm25s.tokenize(
        [_text(p) for p in passages.values()], stopwords=stopwords, stemmer=stem, show_progress=show_progress
    )
    retriever = bm25s.BM25(k1=k1, b=b, method=method)
    retriever.index(corpus_tokens, show_progress=show_progress)

    qids = list(queries)
    query_tokens = bm25s.tokenize(
        [_text(queries[q]) for q in qids],
        stopwords=stopwords,
        stemmer=stem,
        return_ids=False,
        show_progress=show_progress,
    )
    run: Run = {}
    empty = 0
    progress = qids
    if show_progress:
        from tqdm.auto import tqdm

        progress = tqdm(qids, desc="BM25", unit="query")
    for qid, tokens in zip(progress, query_tokens):
        known = [t for t in tokens if t in retriever.vocab_dict]
        if not known:
            run[qid] = []
            empty += 1
            continue
        run[qid] = _top_k(np.asarray(retriever.get_scores(known)), docids, k)
    params: dict[str, object] = {
        "first_stage": "bm25",
        "library": "bm25s",
        "library_version": metadata.version("bm25s"),
        "k": k,
        "k1": k1,
        "b": b,
        "method": method,
        "stemmer": stemmer,
        "stopwords": stopwords,
        "lowercase": True,
        "tie_break": "docid ascending",
        "num_passages": len(passages),
        "num_queries": len(qids),
        "queries_without_matching_terms": empty,
    }
    return run, params
