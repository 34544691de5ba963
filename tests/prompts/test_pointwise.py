"""Pointwise parsing (graded 0–10 and binary true/false): literal adversarial completions, exact Parsed fields."""

from __future__ import annotations

import pytest

from rankrl.core.errors import RankrlError
from rankrl.prompts import get_paradigm


def T(answer: str, think: str = "weigh it") -> str:
    return f"<think>{think}</think>\n<answer>{answer}</answer>"


NO_BLOCK = "no <answer>…</answer> block"
NO_SCORE = "answer has no score"
SEVERAL = "answer holds several different numbers"

# (completion, ok, value, format_ok, repaired, error)
GRADED = [
    (T("7"), True, 7.0, True, False, None),
    (T(" 10 "), True, 10.0, True, False, None),
    (T("0"), True, 0.0, True, False, None),
    (T("\n3\n"), True, 3.0, True, False, None),
    (T("07"), True, 7.0, True, True, None),
    (T("7/10"), True, 7.0, True, True, None),
    (T("10/10"), True, 10.0, True, True, None),
    (T("7 out of 10"), True, 7.0, True, True, None),
    (T("Score: 7"), True, 7.0, True, True, None),
    (T("**7**"), True, 7.0, True, True, None),
    (T("```\n8\n```"), True, 8.0, True, True, None),
    (T("I give it 7."), True, 7.0, True, True, None),
    (T("7.0"), True, 7.0, True, True, None),
    (T("7 (seven); final: 7"), True, 7.0, True, True, None),
    (T("-0"), True, 0.0, True, True, None),
    (T("٧"), True, 7.0, True, True, None),  # Arabic-Indic seven
    (T("分数：６"), True, 6.0, True, True, None),  # full-width six
    (T("11"), False, None, True, False, "score 11 is outside 0..10"),
    (T("11/10"), False, None, True, False, "score 11 is outside 0..10"),
    (T("-1"), False, None, True, False, "score -1 is outside 0..10"),
    (T("100"), False, None, True, False, "score 100 is outside 0..10"),
    (T("9" * 50), False, None, True, False, "score 99999999… is outside 0..10"),
    (T("6.5"), False, None, True, False, "score 6.5 is not a whole number"),
    (T("3 or 4"), False, None, True, False, SEVERAL),
    (T("7 / 100"), False, None, True, False, SEVERAL),
    (T(""), False, None, True, False, NO_SCORE),
    (T("highly relevant"), False, None, True, False, NO_SCORE),
    (T("v1.2.3"), False, None, True, False, NO_SCORE),
    ("<think>maybe 3, maybe 9</think><answer>5</answer>", True, 5.0, True, False, None),
    ("<think>x</think>8", False, None, False, False, NO_BLOCK),
    ("8", False, None, False, False, NO_BLOCK),
    ("<think>x</think><answer>4</answer><answer>6</answer>", True, 6.0, False, False, None),
    ("<think>x</think><answer>4</answer> (confident)", True, 4.0, False, False, None),
    ("x</think><answer>4</answer>", True, 4.0, False, False, None),
    ("<think>" + "9 " * 150_000 + "</think><answer>3</answer>", True, 3.0, True, False, None),
    (T("1 " * 9_000), True, 1.0, True, True, None),
    (T("1 2 " * 4_000), False, None, True, False, SEVERAL),
    (T("1 " * 150_000), False, None, True, False, "answer is longer than 20000 characters"),
]

BINARY = [
    (T("true"), True, 1.0, True, False, None),
    (T("false"), True, 0.0, True, False, None),
    (T(" FALSE "), True, 0.0, True, False, None),
    (T("True"), True, 1.0, True, False, None),
    (T("The passage is relevant: true."), True, 1.0, True, True, None),
    (T("**false**"), True, 0.0, True, True, None),
    (T("true true"), True, 1.0, True, True, None),
    (T("true or false"), False, None, True, False, "answer says both true and false"),
    (T("yes"), False, None, True, False, "answer has neither true nor false"),
    (T("7"), False, None, True, False, "answer has neither true nor false"),
    (T("trueish"), False, None, True, False, "answer has neither true nor false"),
    (T(""), False, None, True, False, "answer has neither true nor false"),
    ("<think>true?</think>", False, None, False, False, NO_BLOCK),
]


@pytest.mark.parametrize(("completion", "ok", "value", "fmt", "rep", "error"), GRADED)
def test_graded(completion, ok, value, fmt, rep, error):
    p = get_paradigm("pointwise").parse(completion, 1)
    assert (p.ok, p.value, p.format_ok, p.repaired, p.error) == (ok, value, fmt, rep, error)


@pytest.mark.parametrize(("completion", "ok", "value", "fmt", "rep", "error"), BINARY)
def test_binary(completion, ok, value, fmt, rep, error):
    p = get_paradigm("pointwise", template="pointwise-binary").parse(completion, 1)
    assert (p.ok, p.value, p.format_ok, p.repaired, p.error) == (ok, value, fmt, rep, error)


def test_case_count():
    assert len(GRADED) + len(BINARY) >= 30


def test_num_passages_is_ignored():
    for n in (0, 1, 7, None):
        assert get_paradigm("pointwise").parse(T("5"), n).value == 5.0  # type: ignore[arg-type]


def test_score_scale():
    assert get_paradigm("pointwise").score_max == 10.0
    assert get_paradigm("pointwise", template="pointwise-binary").score_max == 1.0
    assert get_paradigm("pointwise", template="pointwise-binary").metadata()["score_max"] == 1.0


def test_fallback():
    p = get_paradigm("pointwise", answer_fallback=True).parse("<think>x</think> 8", 1)
    assert (p.ok, p.value, p.format_ok, p.repaired) == (True, 8.0, False, True)


def test_messages_take_exactly_one_passage():
    pw = get_paradigm("pointwise")
    user = pw.messages("q", ["the [1] passage"])[1]["content"]
    assert "the (1) passage" in user and "[1] the" not in user
    for bad in ([], ["a", "b"]):
        with pytest.raises(RankrlError, match="one passage per prompt"):
            pw.messages("q", bad)


def test_render_answer():
    pw, pb = get_paradigm("pointwise"), get_paradigm("pointwise", template="pointwise-binary")
    assert pw.render_answer(7.0, "r") == "<think>\nr\n</think>\n<answer>7</answer>"
    assert pw.render_answer(10) == "<think>\n\n</think>\n<answer>10</answer>"
    assert pb.render_answer(1.0).endswith("<answer>true</answer>")
    assert pb.render_answer(False).endswith("<answer>false</answer>")
    for bad in (6.5, 11, -1, float("nan"), float("inf"), "7", None, 10**400):
        with pytest.raises(RankrlError, match="pointwise value"):
            pw.render_answer(bad)
    with pytest.raises(RankrlError, match="binary pointwise value must be 0 or 1"):
        pb.render_answer(7)
