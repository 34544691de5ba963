"""RankGPT/rank_llm candidate JSON: the real DL19 file and malformed files (errors carry the hit's line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankrl.core.errors import DataFormatError
from rankrl.data.rankgpt import read_candidates
from rankrl.data.trec import read_run


def test_dl19_candidates_match_the_trec_run(shared_data: Path) -> None:
    folder = shared_data / "trec-dl"
    queries, passages, run = read_candidates(folder / "bm25_retrieve_results_dl19_top100.json")
    assert len(queries) == 43 and all(len(r) == 100 for r in run.values())
    assert queries["264014"].text == "how long is life cycle of flea"
    assert passages["5611210"].text.startswith("5. Cancel. A flea can live up to a year")
    trec = read_run(folder / "bm25_trec_results_dl19_top100.txt")
    assert {q: [d for d, _ in r] for q, r in run.items()} == {q: [d for d, _ in r] for q, r in trec.items()}
    assert all(passages[d].text for r in run.values() for d, _ in r)


def _entry(qid, docids, **extra):
    return {"query": f"query {qid}", "hits": [
        {"content": f"text {d}", "qid": qid, "docid": d, "rank": i + 1, "score": 10.0 - i, **extra}
        for i, d in enumerate(docids)]}


def _dump(tmp_path: Path, data) -> Path:
    path = tmp_path / "cands.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_ids_may_be_integers_and_scores_optional(tmp_path: Path) -> None:
    data = [_entry(1, ["a", "b"]), {"query": "q2", "hits": [{"content": "x", "qid": "2", "docid": 5},
                                                            {"content": "y", "qid": "2", "docid": "6"}]}]
    queries, passages, run = read_candidates(_dump(tmp_path, data))
    assert set(queries) == {"1", "2"}
    assert run == {"1": [("a", 10.0), ("b", 9.0)], "2": [("5", 2.0), ("6", 1.0)]}
    assert passages["5"].text == "x"


def _hit_line(path: Path, entry: int, hit: int) -> int:
    """Line of ``"content"`` in entry/hit, i.e. one after the line where the hit object opens."""
    lines = path.read_text().splitlines()
    contents = [i + 1 for i, line in enumerate(lines) if '"content"' in line]
    per_entry = [len(e["hits"]) for e in json.loads(path.read_text())]
    return contents[sum(per_entry[:entry]) + hit] - 1


@pytest.mark.parametrize(("mutate", "entry", "hit", "words"), [
    (lambda d: d[1]["hits"][2].pop("docid"), 1, 2, "missing field 'docid'"),
    (lambda d: d[1]["hits"][1].update(qid="other"), 1, 1, "has qid 'other'"),
    (lambda d: d[0]["hits"][1].update(docid="a"), 0, 1, "listed twice"),
    (lambda d: d[1]["hits"][0].update(score="high"), 1, 0, "'score' must be a finite number"),
    (lambda d: d[1]["hits"][2].pop("score"), 1, 2, "on every hit of an entry or on none"),
    (lambda d: d[1]["hits"][1].update(content=None), 1, 1, "'content' must be a string"),
    (lambda d: d[1]["hits"][1].update(docid=[1]), 1, 1, "'docid' must be"),
])
def test_malformed_hits_name_file_and_line(tmp_path: Path, mutate, entry, hit, words) -> None:
    data = [_entry("1", ["a", "b", "c"]), _entry("2", ["d", "e", "f"])]
    mutate(data)
    path = _dump(tmp_path, data)
    with pytest.raises(DataFormatError) as info:
        read_candidates(path)
    assert info.value.path == str(path)
    assert info.value.line == _hit_line(path, entry, hit)
    assert words in str(info.value) and f"entry {entry}, hit {hit}" in str(info.value)


@pytest.mark.parametrize(("content", "line", "words"), [
    ('[{"query": "q", "hits": []}]', 1, "missing or empty 'hits'"),
    ('[\n  {"query": "q", "hits": [{"content": "x", "qid": 1, "docid": "a"}]},\n  {"hits": []}\n]', 3, "'query'"),
    ('[\n  {"query": "q",\n   "hits": [}\n]', 3, "invalid JSON"),
    ('"just a string"', 1, "expected a JSON list"),
    ("[]", 1, "empty list"),
    ("", None, "empty file"),
    (('[{"query": "q", "hits": [{"content": "x", "qid": 1, "docid": "a"}]},\n'
      ' {"query": "q", "hits": [{"content": "x", "qid": 1, "docid": "b"}]}]'), 2, "appears in two entries"),
])
def test_malformed_documents_name_file_and_line(tmp_path: Path, content, line, words) -> None:
    path = tmp_path / "c.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        read_candidates(path)
    assert info.value.path == str(path) and info.value.line == line
    assert words in str(info.value)


def test_rank_llm_jsonl_layout(tmp_path: Path) -> None:
    lines = [{"query": {"text": "first", "qid": 1}, "candidates": [
                {"docid": "a", "score": 2.5, "doc": {"contents": "text a"}},
                {"docid": 7, "score": 3.5, "doc": {"title": "T", "text": "text 7"}}]},
             {"query": {"text": "second", "qid": "2"}, "candidates": [
                {"docid": "a", "score": 1.0, "doc": {"contents": "text a"}}]}]
    path = tmp_path / "retrieve_results_dl20_top100.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    queries, passages, run = read_candidates(path)
    assert {q: x.text for q, x in queries.items()} == {"1": "first", "2": "second"}
    assert run == {"1": [("7", 3.5), ("a", 2.5)], "2": [("a", 1.0)]}
    assert passages["7"].title == "T" and passages["a"].text == "text a"


@pytest.mark.parametrize(("bad", "words"), [
    ({"query": "flat", "candidates": []}, "'query' must be an object"),
    ({"query": {"text": "q", "qid": 3}, "candidates": []}, "missing or empty 'candidates'"),
    ({"query": {"text": "q", "qid": 3}, "candidates": [{"docid": "a", "score": "x", "doc": {"contents": "t"}}]},
     "candidate 0: 'score' must be a finite number"),
    ({"query": {"text": "q", "qid": 3}, "candidates": [{"docid": "a", "score": 1.0, "doc": {}}]},
     "candidate 0: 'doc' must hold"),
    ({"query": {"text": "q", "qid": 1}, "candidates": [{"docid": "a", "score": 1.0, "doc": "t"}]},
     "query '1' appears twice"),
])
def test_malformed_rank_llm_jsonl_names_file_and_line(tmp_path: Path, bad, words) -> None:
    good = {"query": {"text": "q", "qid": 1}, "candidates": [{"docid": "a", "score": 1.0, "doc": {"contents": "t"}}]}
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        read_candidates(path)
    assert info.value.path == str(path) and info.value.line == 2
    assert words in str(info.value)
