"""Tevatron MS MARCO examples: reading/validation of local files, the Hub path, and Rank-R1-style groups."""

from __future__ import annotations

import gzip
import json

import pytest

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data.rows import RowsConfig, rows_from_tevatron
from rankrl.data.tevatron import iter_tevatron_hf, read_tevatron


def _passage(docid, text=None, title=""):
    return {"docid": docid, "title": title, "text": text or f"passage {docid} text"}


def _records():
    return [
        {
            "query_id": 3,  # integer ids are accepted and become strings
            "query": "what is a flea",
            "positive_passages": [_passage("p3", title="Flea")],
            "negative_passages": [_passage(f"n3-{i}") for i in range(25)],
        },
        {
            "query_id": "7",
            "query": "cycle of life",
            "positive_passages": [_passage("p7a"), _passage("p7b")],
            "negative_passages": [_passage(f"n7-{i}") for i in range(6)] + [_passage("p7a")],
        },
        {
            "query_id": "9",
            "query": "no positives",
            "positive_passages": [],
            "negative_passages": [_passage("x")],
        },
    ]


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_reads_jsonl_gz_and_json_array_alike(tmp_path):
    records = _records()
    plain = read_tevatron(_write_jsonl(tmp_path / "train.jsonl", records))
    with gzip.open(tmp_path / "train.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(r) for r in records) + "\n\n")
    zipped = read_tevatron(tmp_path / "train.jsonl.gz")
    (tmp_path / "train.json").write_text(json.dumps(records), encoding="utf-8")
    array = read_tevatron(tmp_path / "train.json")
    assert plain == zipped == array
    first = plain[0]
    assert (first.qid, first.query) == ("3", "what is a flea")
    assert first.positives[0].title == "Flea" and first.positives[0].render() == "Flea: passage p3 text"
    assert [p.docid for p in first.negatives] == [f"n3-{i}" for i in range(25)]


@pytest.mark.parametrize(
    "bad, problem",
    [
        ({"query": "q", "positive_passages": [], "negative_passages": []}, "field 'query_id' is missing"),
        ({"query_id": "1", "positive_passages": [], "negative_passages": []}, "field 'query' is missing"),
        ({"query_id": "1", "query": "q", "negative_passages": []}, "field 'positive_passages' is missing"),
        ({"query_id": "1", "query": "q", "positive_passages": {}, "negative_passages": []}, "must be a list"),
        (
            {"query_id": "1", "query": "q", "positive_passages": [], "negative_passages": [{"docid": "d"}]},
            r"negative_passages\[0\]\.text is missing",
        ),
        (
            {"query_id": "1", "query": "q", "positive_passages": [{"text": "t"}], "negative_passages": []},
            r"positive_passages\[0\]\.docid is missing",
        ),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_malformed_record_names_file_line_and_field(tmp_path, bad, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(_records()[0]) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=problem) as info:
        read_tevatron(path)
    assert info.value.path == str(path) and info.value.line == 2


def test_invalid_json_line_and_missing_file(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(_records()[0]) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"broken\.jsonl:2: not valid JSON"):
        read_tevatron(path)
    with pytest.raises(RankrlError, match="Tevatron file not found"):
        read_tevatron(tmp_path / "absent.jsonl")
    (tmp_path / "obj.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataFormatError, match="expected a JSON array"):
        read_tevatron(tmp_path / "obj.json")
    (tmp_path / "arr.json").write_text(json.dumps([_records()[0], {"query": "x"}]), encoding="utf-8")
    with pytest.raises(DataFormatError, match="record 1: field 'query_id'"):
        read_tevatron(tmp_path / "arr.json")


def test_rank_r1_recipe_one_positive_nineteen_negatives(tmp_path):
    path = _write_jsonl(tmp_path / "train.jsonl", _records())
    result = rows_from_tevatron(path, RowsConfig("setwise", group_size=20, top_n=100, seed=0))
    (row,) = result.rows  # query 7 has too few negatives for 19, query 9 has no positive
    assert row["qid"] == "3" and sorted(row["relevance"]) == [0] * 19 + [1]
    assert row["docids"][row["relevance"].index(1)] == "p3"
    assert set(row["docids"]) - {"p3"} <= {f"n3-{i}" for i in range(25)}
    assert result.stats["skipped"] == {"no_relevant_in_top_n": 1, "too_few_negatives": 1}
    assert result.stats["queries"] == 3 and result.stats["degenerate_group_fraction"] == 0.0
    assert "Flea: passage p3 text" in row["prompt"][-1]["content"]


def test_top_n_limits_negatives_and_positives_per_group(tmp_path):
    path = _write_jsonl(tmp_path / "train.jsonl", _records())
    result = rows_from_tevatron(path, RowsConfig("listwise", group_size=5, top_n=6, groups_per_query=4, seed=1))
    q3 = [r for r in result.rows if r["qid"] == "3"]
    assert len(q3) == 4
    assert all(set(r["docids"]) - {"p3"} <= {f"n3-{i}" for i in range(6)} for r in q3)
    q7 = [r for r in result.rows if r["qid"] == "7"]
    # One positive per group, taken in turn: both positives appear across the 4 groups.
    assert all(sum(r["relevance"]) == 1 for r in q7)
    assert {d for r in q7 for d, g in zip(r["docids"], r["relevance"]) if g} == {"p7a", "p7b"}
    # p7a is also listed as a negative in the file: it stays a positive only.
    assert all(r["docids"].count("p7a") <= 1 for r in q7)
    two = rows_from_tevatron(path, RowsConfig("listwise", group_size=5, top_n=6, seed=1), positives_per_group=2)
    assert [sum(r["relevance"]) for r in two.rows] == [1, 2]  # query 3 has a single positive


def test_deterministic_and_limit(tmp_path):
    path = _write_jsonl(tmp_path / "train.jsonl", _records())
    a = rows_from_tevatron(path, RowsConfig("groupwise", group_size=4, seed=5))
    b = rows_from_tevatron(path, RowsConfig("groupwise", group_size=4, seed=5))
    c = rows_from_tevatron(path, RowsConfig("groupwise", group_size=4, seed=6))
    assert a.rows == b.rows and a.rows != c.rows
    limited = rows_from_tevatron(path, RowsConfig("groupwise", group_size=4), limit=1)
    assert limited.stats["queries"] == 1 and [r["qid"] for r in limited.rows] == ["3"]
    with pytest.raises(RankrlError, match="positives_per_group"):
        rows_from_tevatron(path, RowsConfig("groupwise", group_size=4), positives_per_group=4)


def test_malformed_record_stops_the_build(tmp_path):
    records = _records()
    records[1]["negative_passages"][2] = {"docid": "n", "text": 5}
    path = _write_jsonl(tmp_path / "train.jsonl", records)
    with pytest.raises(DataFormatError, match=r"train\.jsonl:2: negative_passages\[2\]\.text"):
        rows_from_tevatron(path, RowsConfig("setwise", group_size=4))


def test_hub_unreachable_fails_clearly(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(
        RankrlError, match=r"cannot load hf://datasets/Tevatron/msmarco-passage@[0-9a-f]{40}/train"
    ):
        next(iter_tevatron_hf())


def test_hub_records_are_validated_like_local_ones(monkeypatch):
    import datasets

    seen = {}

    def fake(builder, data_files, split, streaming):
        seen.update(builder=builder, data_files=data_files, streaming=streaming)
        return iter(_records()[:2] + [{"query_id": "x"}])

    monkeypatch.setattr(datasets, "load_dataset", fake)
    stream = iter_tevatron_hf("Org/set", split="dev", revision="abc")
    assert [e.qid for e in (next(stream), next(stream))] == ["3", "7"]
    with pytest.raises(DataFormatError, match=r"hf://datasets/Org/set@abc/dev\.jsonl\.gz:3: field 'query'"):
        next(stream)
    assert seen == {
        "builder": "json",
        "data_files": "hf://datasets/Org/set@abc/dev.jsonl.gz",
        "streaming": True,
    }


def test_repeated_query_id_is_an_error(tmp_path):
    records = _records()
    records[1]["query_id"] = "3"
    path = _write_jsonl(tmp_path / "train.jsonl", records)
    with pytest.raises(RankrlError, match="query id '3' appears more than once"):
        rows_from_tevatron(path, RowsConfig("setwise", group_size=4))
