"""Reading completions and columns the way TRL passes them."""

from __future__ import annotations

import numpy as np
import pytest

from rankrl.core.errors import RankrlError
from rankrl.rewards.columns import (
    check_docids,
    column,
    completion_text,
    num_passages,
    row_grades,
    single_docid,
)


def test_completion_text_forms():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "chat"}]) == "chat"
    assert (
        completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "last"}])
        == "last"
    )
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    assert completion_text(parts) == "ab"
    assert completion_text([]) == ""
    assert completion_text(None) == ""
    assert completion_text([{"role": "assistant", "content": None}]) == ""
    assert completion_text(7) == "7"


def test_column_checks():
    assert column({"relevance": [[1], [0]]}, "relevance", 2, "r") == [[1], [0]]
    with pytest.raises(RankrlError, match="missing .*columns passed: docids"):
        column({"docids": [["a"]], "trainer_state": None}, "relevance", 1, "r")
    with pytest.raises(RankrlError, match="must be a list with one entry per completion"):
        column({"qid": "q1"}, "qid", 1, "r")


def test_row_grades():
    assert row_grades([1, 0, 2], 0, "r", False) == [1, 0, 2]
    assert row_grades((1, 0), 0, "r", False) == [1, 0]
    assert row_grades(np.array([1, 0]), 0, "r", False) == [1, 0]
    assert row_grades(np.int64(2), 0, "r", True) == [2]
    assert row_grades(None, 0, "r", False) is None
    with pytest.raises(RankrlError, match="row 3 must be a list"):
        row_grades(2, 3, "r", False)
    with pytest.raises(RankrlError, match="non-numeric grade True"):
        row_grades([True, 0], 0, "r", False)
    with pytest.raises(RankrlError, match="non-numeric grade nan"):
        row_grades([float("nan")], 0, "r", True)


def test_docids_helpers():
    check_docids(["a", "b"], 2, 0, "r")
    check_docids(None, 2, 0, "r")
    check_docids("a", 1, 0, "r")
    with pytest.raises(RankrlError, match="2 grades in column 'relevance' but 1 entries in column 'docids'"):
        check_docids(["a"], 2, 0, "r")
    assert single_docid(["a"], 0, "r") == "a" and single_docid("b", 0, "r") == "b"
    with pytest.raises(RankrlError, match="exactly one docid"):
        single_docid(["a", "b"], 0, "r")


def test_num_passages():
    assert num_passages({"relevance": [[1, 0, 0]]}, 0) == 3
    assert num_passages({"relevance": [None], "docids": [["a", "b"]]}, 0) == 2
    assert num_passages({"docids": ["a"]}, 0) == 1
    assert num_passages({}, 0) is None
