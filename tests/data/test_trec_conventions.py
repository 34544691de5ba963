"""trec_eval's input conventions: '#' comment lines, run lines with more than 6 columns (docids with spaces, junk
after the tag)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rankrl.core.errors import DataFormatError
from rankrl.data.trec import read_qrels, read_run


def test_qrels_comment_lines_are_skipped(tmp_path: Path) -> None:
    # The layout of trec_eval's test/qrels.test.with-comments: comments before, between and a '#' inside a docno.
    path = tmp_path / "qrels"
    path.write_text("# comment here\n301 0 A 1\n# and comment here\n301 0 CR#93E-1860 0\n  # indented\n302 0 B 2\n")
    assert read_qrels(path) == {"301": {"A": 1, "CR#93E-1860": 0}, "302": {"B": 2}}


def test_qrels_only_comments_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "qrels"
    path.write_text("# nothing\n")
    with pytest.raises(DataFormatError, match="empty file"):
        read_qrels(path)


def test_run_comment_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.write_text("# produced by x\n1 Q0 d#1 1 2.0 t\n1 Q0 d2 2 1.0 t\n")
    assert read_run(path) == {"1": [("d#1", 2.0), ("d2", 1.0)]}


def test_run_docid_with_spaces_is_what_lies_between(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "run"
    path.write_text("7 Q0 pytorch_torch_tensor_functions/Memory Management_2_0.txt 1 3.5 ReasonIR\n"
                    "7 Q0 a  b   c 2 2.5 tag\n"
                    "7 Q0 plain 3 1.5 tag\n")
    with caplog.at_level(logging.WARNING, logger="rankrl.data.trec"):
        run = read_run(path)
    assert run == {"7": [("pytorch_torch_tensor_functions/Memory Management_2_0.txt", 3.5), ("a  b   c", 2.5),
                         ("plain", 1.5)]}
    assert "2 line(s) have more than 6 columns (first: line 1)" in caplog.text


def test_run_extra_columns_after_the_tag_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.write_text("301\tQ0\tFBIS3-27619\t99\t  2.138276\tSTANDARD more junk at\n")  # trec_eval's results.trunc
    assert read_run(path) == {"301": [("FBIS3-27619", 2.138276)]}


def test_wide_line_without_numbers_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.write_text("1 Q0 d 1 1.0 t\n1 Q0 a b c x y\n")
    with pytest.raises(DataFormatError, match=r"run:2: rank 'c' is not an integer"):
        read_run(path)


def test_run_with_spaces_in_docids_round_trips(tmp_path: Path) -> None:
    from rankrl.core.errors import RankrlError
    from rankrl.data.trec import write_run

    run = {"7": [("pytorch_torch_tensor_functions/Memory Management_2_0.txt", 3.0), ("d 1", 2.0),
                 ("a 2 3.5 b", 1.5), ("plain", 1.0)]}  # even ids whose words look like a rank and a score
    write_run(tmp_path / "run", run)
    assert read_run(tmp_path / "run") == run
    for bad in ("tab\there", " lead", "two  spaces", "new\nline"):
        with pytest.raises(RankrlError, match="document id"):
            write_run(tmp_path / "bad", {"1": [(bad, 1.0)]})
    assert not (tmp_path / "bad").exists()
