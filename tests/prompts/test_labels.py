"""Label reading helpers shared by setwise and listwise."""

from __future__ import annotations

from rankrl.prompts.labels import bare_ids, bracketed_ids, compact, to_id


def test_to_id_bounds_digit_runs():
    assert to_id("7") == 7 and to_id("000000012") == 12
    assert to_id("1234567890") == -1  # ten digits: no real group has that many passages
    assert to_id("9" * 5000) == -1  # int() would raise on this many digits


def test_bracketed_and_bare_ids():
    assert bracketed_ids("[3] > [ 1 ] > [x] > [2a] > [-4] > [٢]") == [3, 1, 2]
    assert bare_ids("3 > 1 > x2") == [3, 1, 2]
    assert compact(" [1] >\n\t[2] ") == "[1]>[2]"
