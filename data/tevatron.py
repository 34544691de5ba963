"""Tevatron MS MARCO training examples: a query with its positive and (BM25 hard) negative passages.

Record format (one JSON object per line, or a JSON array)::

    {"query_id": "3", "query": "...",
     "positive_passages": [{"docid": "7", "title": "", "text": "..."}],
     "negative_passages": [{"docid": "9", "title": "", "text": "..."}, ...]}

Local files are read lazily (``.jsonl``, ``.jsonl.gz``, ``.json``) and every record is validated with the file
and line of the first problem. The Hugging Face copy (``Tevatron/msmarco-passage``) is streamed through
``datasets`` at a pinned revision; it needs network access and fails with a clear message without it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data.records import Passage

HF_DATASET = "Tevatron/msmarco-passage"
# Commit that last changed train.jsonl.gz (1.73 GB); pinned so a rebuild reads the same examples.
HF_REVISION = "a8eec567e64d42528a140fbe218dbb22b6719139"


@dataclass(frozen=True)
class TevatronExample:
    qid: str
    query: str
    positives: tuple[Passage, ...]
    negatives: tuple[Passage, ...]


def _passages(value: Any, field: str, path: str, line: int | None, prefix: str) -> tuple[Passage, ...]:
    if not isinstance(value, list):
        raise DataFormatError(path, line, f"{prefix}field {field!r} must be a list of passages")
    out = []
    for i, item in enumerate(value):
        where = f"{prefix}{field}[{i}]"
        if not isinstance(item, dict):
            raise DataFormatError(path, line, f"{where} must be an object with 'docid' and 'text'")
        docid, text, title = item.get("docid"), item.get("text"), item.get("title", "")
        if isinstance(docid, int) and not isinstance(docid, bool):
            docid = str(docid)
        if not isinstance(docid, str) or not docid.strip():
            raise DataFormatError(path, line, f"{where}.docid is missing or not a non-empty string")
        if not isinstance(text, str):
            raise DataFormatError(path, line, f"{where}.text is missing or not a string")
        if title is None:
            title = ""
        if not isinstance(title, str):
            raise DataFormatError(path, line, f"{where}.title must be a string")
        out.append(Passage(docid.strip(), text, title))
    return tuple(out)


def parse_example(
    record: Any, path: str = "<record>", line: int | None = None, prefix: str = ""
) -> TevatronExample:
    """Validate one record; errors name ``path``, ``line`` and the field."""
    if not isinstance(record, dict):
        raise DataFormatError(path, line, f"{prefix}expected a JSON object, got {type(record).__name__}")
    qid = record.get("query_id")
    if isinstance(qid, int) and not isinstance(qid, bool):
        qid = str(qid)
    if not isinstance(qid, str) or not qid.strip():
        raise DataFormatError(path, line, f"{prefix}field 'query_id' is missing or empty")
    query = record.get("query")
    if not isinstance(query, str) or not query.strip():
        raise DataFormatError(path, line, f"{prefix}field 'query' is missing or empty")
    for field in ("positive_passages", "negative_passages"):
        if field not in record:
            raise DataFormatError(path, line, f"{prefix}field {field!r} is missing")
    positives = _passages(record["positive_passages"], "positive_passages", path, line, prefix)
    negatives = _passages(record["negative_passages"], "negative_passages", path, line, prefix)
    return TevatronExample(qid.strip(), query, positives, negatives)


def iter_tevatron(path: str | Path) -> Iterator[TevatronExample]:
    """Stream validated examples from a local ``.jsonl``/``.jsonl.gz`` or a ``.json`` array."""
    path = Path(path)
    if not path.is_file():
        raise RankrlError(f"Tevatron file not found: {path}")
    name = str(path)
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:  # RecursionError: deep nesting
            raise DataFormatError(name, getattr(err, "lineno", None), f"not valid JSON: {err}") from None
        if not isinstance(data, list):
            raise DataFormatError(name, None, "expected a JSON array of Tevatron records")
        for i, record in enumerate(data):
            yield parse_example(record, name, None, prefix=f"record {i}: ")
        return
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for lineno, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as err:
                    raise DataFormatError(name, lineno, f"not valid JSON: {err.msg}") from err
                except RecursionError:
                    raise DataFormatError(name, lineno, "not valid JSON: nested too deeply to read") from None
                yield parse_example(record, name, lineno)
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise DataFormatError(name, None, f"cannot read file: {err}") from err


def read_tevatron(path: str | Path) -> list[TevatronExample]:
    return list(iter_tevatron(path))


def iter_tevatron_hf(
    name: str = HF_DATASET, split: str = "train", revision: str | None = HF_REVISION
) -> Iterator[TevatronExample]:
    """Stream ``{split}.jsonl.gz`` of a Tevatron dataset repository from the Hugging Face Hub.

    The raw JSONL is read (not the repository's loading script, which recent ``datasets`` no longer runs).
    """
    import datasets  # lazy: only this source needs the Hub

    at = f"@{revision}" if revision else ""
    url = f"hf://datasets/{name}{at}/{split}.jsonl.gz"
    try:
        stream = datasets.load_dataset("json", data_files=url, split="train", streaming=True)
        iterator = iter(stream)
        first = next(iterator, None)
    except Exception as err:  # network, auth, missing file: all mean "cannot get it from here"
        raise RankrlError(
            f"cannot load {url} from the Hugging Face Hub ({type(err).__name__}: {err}). It needs network "
            "access; elsewhere, download the file and pass it as a local file: data_source tevatron:FILE"
        ) from err
    if first is None:
        return
    for i, record in enumerate(_chain(first, iterator)):
        yield parse_example(record, url, i + 1)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
