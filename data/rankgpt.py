"""RankGPT / rank_llm candidate files: ``[{"query": str, "hits": [{"content","qid","docid","rank","score"}]}]``
(and rank_llm's newer JSONL, one ``{"query": {...}, "candidates": [...]}`` per line).

The whole file is one JSON document, so the fast path parses it with ``json.loads``; only when a record is
invalid do we scan the text again to find the line where that entry (or hit) starts, so the error can name it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from rankrl.core.errors import DataFormatError
from rankrl.data.jsonl import iter_jsonl, loads_json, read_text
from rankrl.data.records import Passage, Query, Run

_WS = " \t\n\r"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _array_offsets(text: str, pos: int) -> list[int]:
    """Start offsets of the elements of the JSON array opening at ``pos`` (text already known to be valid JSON)."""
    decoder = json.JSONDecoder()
    offsets: list[int] = []
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and text[pos] != "]":
        offsets.append(pos)
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return offsets


def _member_offset(text: str, pos: int, key: str) -> int | None:
    """Offset of the value of ``key`` in the JSON object opening at ``pos``."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and text[pos] != "}":
        name, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # skip ':'
        if name == key:
            return pos
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return None


def _line_of(text: str, entry: int, hit: int | None = None) -> int | None:
    """1-based line where entry ``entry`` (or its hit ``hit``) starts; None if it cannot be located."""
    try:
        entries = _array_offsets(text, _skip_ws(text, 0))
        pos = entries[entry]
        if hit is not None and text[pos] == "{":
            hits_pos = _member_offset(text, pos, "hits")
            if hits_pos is not None and text[hits_pos] == "[":
                pos = _array_offsets(text, hits_pos)[hit]
        return text.count("\n", 0, pos) + 1
    except (ValueError, IndexError):
        return None


def _as_id(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value and not any(ch.isspace() for ch in value):
        return value
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _doc_text(doc: Any) -> tuple[str, str] | None:
    """(text, title) of a rank_llm ``doc``: ``{"contents"}`` (Pyserini) or ``{"text", "title"?}``/``{"segment"}``."""
    if isinstance(doc, str):
        return doc, ""
    if not isinstance(doc, dict):
        return None
    title = doc.get("title", "")
    for key in ("contents", "text", "segment"):
        if isinstance(doc.get(key), str) and isinstance(title, str):
            return doc[key], title
    return None


def _read_rank_llm_jsonl(path: Path) -> tuple[dict[str, Query], dict[str, Passage], Run]:
    """rank_llm's newer JSONL: ``{"query": {"text", "qid"}, "candidates": [{"docid", "score", "doc"}]}`` a line."""
    queries: dict[str, Query] = {}
    passages: dict[str, Passage] = {}
    run: Run = {}
    for lineno, record in iter_jsonl(path):
        query = record.get("query")
        if not isinstance(query, dict) or not isinstance(query.get("text"), str) or not query["text"].strip():
            raise DataFormatError(path, lineno, "'query' must be an object with a non-empty 'text' and a 'qid'")
        qid = _as_id(query.get("qid"))
        if qid is None:
            raise DataFormatError(path, lineno, f"'query.qid' must be a string or integer id, found {query.get('qid')!r}")
        if qid in queries:
            raise DataFormatError(path, lineno, f"query {qid!r} appears twice")
        candidates = record.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            raise DataFormatError(path, lineno, "missing or empty 'candidates' list")
        ranking: list[tuple[str, float]] = []
        seen: set[str] = set()
        for j, cand in enumerate(candidates):
            where = f"candidate {j}"
            if not isinstance(cand, dict):
                raise DataFormatError(path, lineno, f"{where}: expected an object")
            docid = _as_id(cand.get("docid"))
            if docid is None:
                raise DataFormatError(path, lineno, f"{where}: 'docid' must be a string or integer id")
            if not _is_number(cand.get("score")):
                raise DataFormatError(path, lineno, f"{where}: 'score' must be a finite number, found "
                                                    f"{cand.get('score')!r}")
            body = _doc_text(cand.get("doc"))
            if body is None:
                raise DataFormatError(path, lineno, f"{where}: 'doc' must hold 'contents', 'text' or 'segment'")
            if docid in seen:
                raise DataFormatError(path, lineno, f"{where}: document {docid!r} listed twice")
            seen.add(docid)
            ranking.append((docid, float(cand["score"])))
            passages.setdefault(docid, Passage(docid, body[0], body[1]))
        queries[qid] = Query(qid, query["text"])
        ranking.sort(key=lambda item: -item[1])
        run[qid] = ranking
    return queries, passages, run


def read_candidates(path: str | Path) -> tuple[dict[str, Query], dict[str, Passage], Run]:
    """Read a RankGPT/rank_llm candidate file into queries, passages (``content`` as text) and a run.

    Two layouts are accepted: RankGPT's JSON list ``[{"query", "hits": [{"content","qid","docid",...}]}]``
    and rank_llm's newer JSONL (one ``{"query": {"text","qid"}, "candidates": [...]}`` per line), told apart
    by the first character. In the JSON list, each entry's hits must share one ``qid``; ``docid`` and
    ``content`` are required; ``score`` is optional but must then be present on every hit of the entry
    (without it the file order defines the scores). Each ranking is sorted by descending score (ties keep
    file order).
    """
    path = Path(path)
    text = read_text(path)
    if not text.strip():
        raise DataFormatError(path, None, "empty file: expected a JSON list of {'query', 'hits'} entries")
    if text.lstrip().startswith("{"):
        return _read_rank_llm_jsonl(path)
    data = loads_json(text, path)  # file:line errors; deep nesting is an error, not a RecursionError

    def fail(problem: str, entry: int | None = None, hit: int | None = None) -> DataFormatError:
        line = _line_of(text, entry, hit) if entry is not None else 1
        where = f"entry {entry}" + (f", hit {hit}" if hit is not None else "") if entry is not None else ""
        return DataFormatError(path, line, f"{where}: {problem}" if where else problem)

    if not isinstance(data, list):
        raise fail(f"expected a JSON list of {{'query', 'hits'}} entries, found {type(data).__name__}")
    if not data:
        raise fail("empty list: no candidate entries")

    queries: dict[str, Query] = {}
    passages: dict[str, Passage] = {}
    run: Run = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise fail(f"expected an object, found {type(entry).__name__}", i)
        query = entry.get("query")
        if not isinstance(query, str) or not query.strip():
            raise fail("missing or empty 'query' string", i)
        hits = entry.get("hits")
        if not isinstance(hits, list) or not hits:
            raise fail("missing or empty 'hits' list (the query id comes from the hits)", i)
        qid: str | None = None
        ranking: list[tuple[str, float]] = []
        docids: set[str] = set()
        with_score = None
        for j, hit in enumerate(hits):
            if not isinstance(hit, dict):
                raise fail(f"expected an object, found {type(hit).__name__}", i, j)
            for key in ("qid", "docid", "content"):
                if key not in hit:
                    raise fail(f"missing field {key!r}", i, j)
            hit_qid, docid = _as_id(hit["qid"]), _as_id(hit["docid"])
            if hit_qid is None:
                raise fail(f"'qid' must be a string or integer id, found {hit['qid']!r}", i, j)
            if docid is None:
                raise fail(f"'docid' must be a string or integer id, found {hit['docid']!r}", i, j)
            if qid is None:
                qid = hit_qid
            elif hit_qid != qid:
                raise fail(f"hit has qid {hit_qid!r} but this entry's first hit has qid {qid!r}", i, j)
            if not isinstance(hit["content"], str):
                raise fail(f"'content' must be a string, found {type(hit['content']).__name__}", i, j)
            if "rank" in hit and (isinstance(hit["rank"], bool) or not isinstance(hit["rank"], int)):
                raise fail(f"'rank' must be an integer, found {hit['rank']!r}", i, j)
            has_score = "score" in hit
            if with_score is None:
                with_score = has_score
            elif has_score != with_score:
                raise fail("'score' must be on every hit of an entry or on none", i, j)
            if has_score and not _is_number(hit["score"]):
                raise fail(f"'score' must be a finite number, found {hit['score']!r}", i, j)
            if docid in docids:
                raise fail(f"document {docid!r} listed twice for query {qid!r}", i, j)
            docids.add(docid)
            score = float(hit["score"]) if has_score else float(len(hits) - j)
            ranking.append((docid, score))
            passages.setdefault(docid, Passage(docid, hit["content"]))
        assert qid is not None
        if qid in queries:
            raise fail(f"query {qid!r} appears in two entries", i)
        queries[qid] = Query(qid, query)
        ranking.sort(key=lambda item: -item[1])
        run[qid] = ranking
    return queries, passages, run
