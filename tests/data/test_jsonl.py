"""JSONL corpora and queries: reading (plain and gzip), validation, and atomic writing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data.jsonl import iter_jsonl, read_corpus, read_queries, write_jsonl
from rankrl.data.records import Passage, Query


def test_corpus_and_queries_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    docs = [{"docid": "d1", "text": "first", "title": "T"}, {"docid": "d2", "text": ""}, {"_id": 7, "text": "int id"}]
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        write_jsonl(tmp_path / name, docs)
        assert read_corpus(tmp_path / name) == {
            "d1": Passage("d1", "first", "T"), "d2": Passage("d2", ""), "7": Passage("7", "int id")}
    with gzip.open(tmp_path / "corpus.jsonl.gz", "rt") as handle:  # really gzip
        assert handle.readline().startswith('{"docid": "d1"')
    write_jsonl(tmp_path / "q.jsonl", [{"qid": "1", "text": "what is ü"}, {"_id": "2", "text": "two"}])
    assert read_queries(tmp_path / "q.jsonl") == {"1": Query("1", "what is ü"), "2": Query("2", "two")}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


MALFORMED = [
    (read_corpus, '{"docid": "a", "text": "x"}\n{"docid": "b", "text": "y"\n', 2, "invalid JSON"),
    (read_corpus, '{"docid": "a", "text": "x"}\n\n["docid", "b"]\n', 3, "expected a JSON object"),
    (read_corpus, '{"docid": "a", "text": "x"}\n{"text": "y"}\n', 2, "missing field 'docid' or '_id'"),
    (read_corpus, '{"docid": "a", "text": "x"}\n{"docid": "b"}\n', 2, "missing field 'text'"),
    (read_corpus, '{"docid": "a", "text": 3}\n', 1, "must be a string"),
    (read_corpus, '{"docid": "a b", "text": "x"}\n', 1, "without spaces"),
    (read_corpus, '{"docid": "a", "text": "x"}\n{"docid": "a", "text": "y"}\n', 2, "duplicate docid 'a' (first on line 1)"),
    (read_corpus, "\n\n", None, "empty file"),
    (read_queries, '{"qid": "1", "text": ""}\n', 1, "field 'text' is empty"),
    (read_queries, '{"qid": "1", "text": "a"}\n{"qid": 1, "text": "b"}\n', 2, "duplicate qid"),
    (read_queries, '{"qid": true, "text": "a"}\n', 1, "must be a string"),
]


@pytest.mark.parametrize(("reader", "content", "line", "words"), MALFORMED)
def test_malformed_jsonl_names_file_and_line(tmp_path: Path, reader, content, line, words) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        reader(path)
    assert info.value.path == str(path) and info.value.line == line
    assert words in str(info.value)


def test_truncated_gzip_and_missing_file(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b'{"docid": "d%d", "text": "t"}\n' % i for i in range(5000)))
    path = tmp_path / "corpus.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="gzip") as info:
        read_corpus(path)
    assert info.value.path == str(path)
    with pytest.raises(RankrlError, match="nothing.jsonl: file not found"):
        read_queries(tmp_path / "nothing.jsonl")


def test_iter_jsonl_skips_blank_lines_and_reports_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('\ufeff{"a": 1}\n\n{"a": 2}\r\n', encoding="utf-8")
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (3, {"a": 2})]
