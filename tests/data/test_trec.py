"""TREC qrels/run/topics readers and the run writer, on the real DL19 files and on malformed inputs."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rankrl.core.errors import DataFormatError, RankrlError
from rankrl.data.trec import read_qrels, read_run, read_topics, write_qrels, write_run, write_topics


def test_dl19_qrels_topics_and_run(shared_data: Path) -> None:
    folder = shared_data / "trec-dl"
    qrels = read_qrels(folder / "qrels.dl19-passage.txt")
    assert len(qrels) == 43
    assert sum(len(j) for j in qrels.values()) == 9260
    assert {g for j in qrels.values() for g in j.values()} == {0, 1, 2, 3}
    assert qrels["19335"]["1017759"] == 0

    topics = read_topics(folder / "topics.dl19-passage.txt")
    assert set(topics) == set(qrels)
    assert topics["156493"].text == "do goldfish grow"
    assert len(read_topics(folder / "topics.dl20.txt")) == 200

    run = read_run(folder / "bm25_trec_results_dl19_top100.txt")
    assert set(run) == set(qrels)
    assert all(len(r) == 100 for r in run.values())
    assert run["264014"][0] == ("5611210", 15.780599594116211)
    for ranking in run.values():
        scores = [s for _, s in ranking]
        assert scores == sorted(scores, reverse=True)


def test_dl20_qrels_use_numeric_iteration_column(shared_data: Path) -> None:
    qrels = read_qrels(shared_data / "trec-dl" / "qrels.dl20-passage.txt")
    assert len(qrels) == 54 and qrels["23849"]["1020327"] == 2


def test_bright_qrels_are_tab_separated(shared_data: Path) -> None:
    qrels = read_qrels(shared_data / "bright" / "qrels" / "qrels.bright-pony.txt")
    assert len(qrels) == 112 and qrels["0"]["Pony/2_ops_10.txt"] == 1


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MALFORMED = [
    # (reader, file name, content, line, words expected in the message)
    (read_qrels, "q.txt", "1 0 d1 1\n1 0 d2\n", 2, "4 columns"),
    (read_qrels, "q.txt", "1 0 d1 1\n\n1 0 d2 high\n", 3, "not an integer"),
    (read_qrels, "q.txt", "1 0 d1 1.5\n", 1, "not an integer"),
    (read_qrels, "q.txt", "1 0 d1 1\n1 0 d1 2\n", 2, "judged 1 on line 1 and 2"),
    (read_qrels, "q.txt", "\n  \n", None, "empty file"),
    (read_run, "r.trec", "1 Q0 d1 1 2.0 t\n1 Q0 d2 2 1.0\n", 2, "6 columns"),
    (read_run, "r.trec", "1 Q0 d1 1 2.0 t\n1 Q0 d2 2 high t\n", 2, "not a number"),
    (read_run, "r.trec", "1 Q0 d1 1 nan t\n", 1, "not a finite number"),
    (read_run, "r.trec", "1 Q0 d1 one 2.0 t\n", 1, "rank 'one' is not an integer"),
    (read_run, "r.trec", "1 Q0 d1 1 2.0 t\n2 Q0 d1 1 2.0 t\n1 Q0 d1 2 1.0 t\n", 3, "listed twice"),
    (read_run, "r.trec", "", None, "empty file"),
    (read_topics, "t.tsv", "1\tfirst query\n2 second query\n", 2, "no tab"),
    (read_topics, "t.tsv", "1\tfirst\n1\tagain\n", 2, "duplicate query id"),
    (read_topics, "t.tsv", "1\tfirst\n2\t   \n", 2, "empty text"),
    (read_topics, "t.tsv", "", None, "empty file"),
]


@pytest.mark.parametrize(("reader", "name", "content", "line", "words"), MALFORMED)
def test_malformed_files_name_file_and_line(tmp_path, reader, name, content, line, words) -> None:
    path = _write(tmp_path, name, content)
    with pytest.raises(DataFormatError) as info:
        reader(path)
    err = info.value
    assert err.path == str(path) and err.line == line
    assert words in str(err)
    assert str(err).startswith(f"{path}:{line}:" if line else f"{path}:")


@pytest.mark.parametrize("reader", [read_qrels, read_run, read_topics])
def test_missing_unreadable_and_binary_files(tmp_path, reader) -> None:
    with pytest.raises(RankrlError, match="file not found") as info:
        reader(tmp_path / "absent.txt")
    assert "absent.txt" in str(info.value)
    with pytest.raises(RankrlError, match="is a folder"):
        reader(tmp_path)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe 0 d 1\n")
    with pytest.raises(DataFormatError, match="not valid UTF-8") as info:
        reader(binary)
    assert info.value.line == 1 and info.value.path == str(binary)


def test_gzip_is_detected_by_content_and_truncation_is_reported(tmp_path) -> None:
    body = "".join(f"q{i} 0 d{i} {i % 3}\n" for i in range(2000)).encode()
    path = tmp_path / "qrels.txt"  # no .gz suffix: detected by the magic bytes
    path.write_bytes(gzip.compress(body))
    assert len(read_qrels(path)) == 2000
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(gzip.compress(body)[:-200])
    with pytest.raises(DataFormatError, match="gzip") as info:
        read_qrels(broken)
    assert info.value.path == str(broken)


def test_run_ties_are_read_in_trec_eval_order(tmp_path) -> None:
    """Ties by docid descending, as trec_eval scores them (file order plays no part; see trec_eval_order)."""
    path = _write(tmp_path, "r.trec", "1 Q0 b 1 1.0 t\n1 Q0 a 2 3.0 t\n1 Q0 c 3 1.0 t\n")
    assert read_run(path) == {"1": [("a", 3.0), ("c", 1.0), ("b", 1.0)]}


def test_write_run_keeps_strictly_decreasing_scores_exactly(tmp_path) -> None:
    run = {"q1": [("d1", 15.780599594116211), ("d2", 0.1 + 0.2), ("d3", -1e-300)], "q2": [("x", 2.0)]}
    path = tmp_path / "out" / "run.trec"
    write_run(path, run, tag="mine")
    assert read_run(path) == run
    lines = path.read_text().splitlines()
    assert lines[0] == "q1 Q0 d1 1 15.780599594116211 mine"
    assert [line.split()[3] for line in lines] == ["1", "2", "3", "1"]
    assert not [p for p in path.parent.iterdir() if p.name != "run.trec"]  # no temporary file left


def test_write_run_rescores_ties_and_unordered_scores_keeping_list_order(tmp_path) -> None:
    import pytrec_eval

    # Tied scores: trec_eval would put "b" before "a" (docid descending); the list order says a, b, c.
    run = {"q": [("a", 1.0), ("b", 1.0), ("c", 5.0)]}
    path = tmp_path / "run.trec"
    write_run(path, run)
    back = read_run(path)
    assert [d for d, _ in back["q"]] == ["a", "b", "c"]
    assert [s for _, s in back["q"]] == [3.0, 2.0, 1.0]
    # pytrec_eval scores the written run in the list order: "a" (the relevant one) first.
    result = pytrec_eval.RelevanceEvaluator({"q": {"a": 1}}, {"recip_rank"}).evaluate(
        {q: dict(r) for q, r in back.items()})
    assert result["q"]["recip_rank"] == 1.0


def test_write_run_treats_single_precision_ties_as_ties(tmp_path) -> None:
    import pytrec_eval

    # Distinct doubles but the same C float: trec_eval would tie them and put "b" first.
    run = {"q": [("a", 1.0000001), ("b", 1.00000009)]}
    assert run["q"][0][1] > run["q"][1][1]
    evaluator = pytrec_eval.RelevanceEvaluator({"q": {"a": 1}}, {"recip_rank"})
    assert evaluator.evaluate({"q": dict(run["q"])})["q"]["recip_rank"] == 0.5
    write_run(tmp_path / "run.trec", run)
    back = read_run(tmp_path / "run.trec")
    assert back == {"q": [("a", 2.0), ("b", 1.0)]}
    assert evaluator.evaluate({"q": dict(back["q"])})["q"]["recip_rank"] == 1.0


@pytest.mark.parametrize(("run", "words"), [
    ({"q 1": [("d", 1.0)]}, "query id"),
    ({"q": [("d\t1", 1.0)]}, "document id"),  # a single inner space is allowed (test_trec_conventions.py)
    ({"q": [("d", 2.0), ("d", 1.0)]}, "appears twice"),
    ({"q": [("d", "high")]}, "non-numeric"),
])
def test_write_run_rejects_bad_runs_before_creating_the_file(tmp_path, run, words) -> None:
    path = tmp_path / "run.trec"
    with pytest.raises(RankrlError, match=words):
        write_run(path, run)
    assert not path.exists()
    with pytest.raises(RankrlError, match="tag"):
        write_run(path, {"q": [("d", 1.0)]}, tag="two words")


def test_write_qrels_and_topics_round_trip(tmp_path) -> None:
    from rankrl.data.records import Query

    qrels = {"1": {"a": 2, "b": 0}, "2": {"c": 1}}
    write_qrels(tmp_path / "q.txt", qrels)
    assert read_qrels(tmp_path / "q.txt") == qrels
    topics = {"1": Query("1", "line\nbreak\tand tab"), "2": Query("2", "plain")}
    write_topics(tmp_path / "t.tsv", topics)
    assert read_topics(tmp_path / "t.tsv") == {"1": Query("1", "line break and tab"), "2": Query("2", "plain")}
    with pytest.raises(RankrlError, match="not an integer"):
        write_qrels(tmp_path / "bad.txt", {"1": {"a": 1.5}})
