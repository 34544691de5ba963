"""Line-oriented file reading shared by every reader, plus JSONL corpora, queries and writers.

Every reader goes through :func:`iter_lines` so that missing files, unreadable files, broken gzip streams and
non-UTF-8 bytes all become a ``RankrlError`` naming the file (and the line when there is one). Files are
decompressed transparently when they start with the gzip magic bytes, whatever their suffix.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from rankrl.core.atomic import atomic_open
from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data.records import Passage, Query

_GZIP_MAGIC = b"\x1f\x8b"


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise RankrlError(f"{path}: file not found")
    if path.is_dir():
        raise RankrlError(f"{path}: is a folder, expected a file")


def _open_binary(path: Path) -> io.BufferedIOBase:
    _check_readable(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - returned open; the caller closes it
        magic = handle.peek(2)[:2] if hasattr(handle, "peek") else b""
    except OSError as err:
        raise RankrlError(f"{path}: cannot read file ({err.strerror or err})") from err
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every line (1-based, newline stripped); gzip is detected by content."""
    path = Path(path)
    handle = _open_binary(path)
    lineno = 0
    try:
        with handle:
            for lineno, raw in enumerate(handle, 1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise DataFormatError(path, lineno, f"not valid UTF-8 text ({err.reason})") from err
                if lineno == 1 and text.startswith("\ufeff"):
                    text = text[1:]
                yield lineno, text.rstrip("\r\n")
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise DataFormatError(path, lineno + 1, f"corrupt or truncated gzip data ({err})") from err
    except OSError as err:
        raise RankrlError(f"{path}: cannot read file ({err.strerror or err})") from err


def read_text(path: str | Path) -> str:
    """The whole file as text (gzip detected by content); used by whole-document formats such as JSON."""
    return "\n".join(text for _, text in iter_lines(path))


def loads_json(text: str, path: str | Path, lineno: int | None = None) -> Any:
    """``json.loads`` whose failures are a ``DataFormatError`` naming the file and line. Deeply nested input
    (``[[[[...``, 200,000 levels) makes CPython's decoder raise ``RecursionError``; that too is a malformed
    file here, not a traceback."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        line = err.lineno if lineno is None else lineno
        raise DataFormatError(path, line, f"invalid JSON ({err.msg} at column {err.colno})") from err
    except RecursionError:
        raise DataFormatError(path, lineno, "JSON nested too deeply to read (more levels of [ or { than Python's "
                                            "recursion limit): a damaged or hostile file") from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; a line that is not a JSON object is an error."""
    path = Path(path)
    seen = False
    for lineno, text in iter_lines(path):
        if not text.strip():
            continue
        record = loads_json(text, path, lineno)
        if not isinstance(record, dict):
            raise DataFormatError(path, lineno, f"expected a JSON object, found {type(record).__name__}")
        seen = True
        yield lineno, record
    if not seen:
        raise DataFormatError(path, None, "empty file: no JSON records")


def field_str(path: str | Path, lineno: int, record: Mapping[str, Any], names: tuple[str, ...], *,
              allow_empty: bool = False, id_like: bool = False) -> str:
    """The first present field among ``names`` as a string; ids may be JSON integers (converted)."""
    for name in names:
        if name in record:
            value = record[name]
            if id_like and isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str):
                raise DataFormatError(path, lineno, f"field {name!r} must be a string, found {type(value).__name__}")
            if id_like and (not value or any(ch.isspace() for ch in value)):
                raise DataFormatError(path, lineno, f"field {name!r} must be a non-empty id without spaces: {value!r}")
            if not allow_empty and not value.strip():
                raise DataFormatError(path, lineno, f"field {name!r} is empty")
            return value
    wanted = " or ".join(repr(n) for n in names)
    raise DataFormatError(path, lineno, f"missing field {wanted}")


def read_corpus(path: str | Path) -> dict[str, Passage]:
    """A JSONL corpus: ``{"docid", "text", "title"?}`` per line (BEIR's ``"_id"`` is accepted for ``docid``)."""
    path = Path(path)
    passages: dict[str, Passage] = {}
    first_line: dict[str, int] = {}
    for lineno, record in iter_jsonl(path):
        docid = field_str(path, lineno, record, ("docid", "_id"), id_like=True)
        text = field_str(path, lineno, record, ("text",), allow_empty=True)
        title = field_str(path, lineno, record, ("title",), allow_empty=True) if "title" in record else ""
        if docid in passages:
            raise DataFormatError(path, lineno, f"duplicate docid {docid!r} (first on line {first_line[docid]})")
        passages[docid] = Passage(docid, text, title)
        first_line[docid] = lineno
    return passages


def read_queries(path: str | Path) -> dict[str, Query]:
    """JSONL queries: ``{"qid", "text"}`` per line (BEIR's ``"_id"`` is accepted for ``qid``)."""
    path = Path(path)
    queries: dict[str, Query] = {}
    first_line: dict[str, int] = {}
    for lineno, record in iter_jsonl(path):
        qid = field_str(path, lineno, record, ("qid", "_id"), id_like=True)
        text = field_str(path, lineno, record, ("text",))
        if qid in queries:
            raise DataFormatError(path, lineno, f"duplicate qid {qid!r} (first on line {first_line[qid]})")
        queries[qid] = Query(qid, text)
        first_line[qid] = lineno
    return queries


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write one JSON object per line, atomically; a ``.gz`` suffix writes gzip."""
    path = Path(path)
    if path.suffix == ".gz":
        with atomic_open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for record in records:
                gz.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        return
    with atomic_open(path, "w") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
