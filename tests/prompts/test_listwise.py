"""Listwise parsing: literal adversarial completions with their exact Parsed fields."""

from __future__ import annotations

import pytest

from rankrl.core.errors import RankrlError
from rankrl.prompts import get_paradigm


def T(answer: str, think: str = "compare them") -> str:
    return f"<think>{think}</think>\n<answer>{answer}</answer>"


NO_BLOCK = "no <answer>…</answer> block"
NO_IDS = "answer has no passage ids"
GOOD = [1, 0, 3, 2]

# (completion, num_passages, ok, value, format_ok, repaired, error)
CASES = [
    (T("[2] > [1] > [4] > [3]"), 4, True, GOOD, True, False, None),
    (T("[2]>[1]>[4]>[3]"), 4, True, GOOD, True, False, None),
    (T("\n [2] >\n [1] > [4]\n > [3]\n"), 4, True, GOOD, True, False, None),
    (T("[1]"), 1, True, [0], True, False, None),
    (T("[2] > [1]"), 4, True, [1, 0, 2, 3], True, True, None),
    (T("[4]"), 4, True, [3, 0, 1, 2], True, True, None),
    (T("[2] > [2] > [1] > [3] > [4]"), 4, True, [1, 0, 2, 3], True, True, None),
    (T("[1] > [1] > [1]"), 4, True, [0, 1, 2, 3], True, True, None),
    (T("[2] > [9] > [1] > [3] > [4]"), 4, True, [1, 0, 2, 3], True, True, None),
    (T("[0] > [2]"), 4, True, [1, 0, 2, 3], True, True, None),
    (T("[2] > [1] > [4] > [3] > [5]"), 4, True, GOOD, True, True, None),
    (T("[2] > [" + "7" * 50 + "] > [1]"), 4, True, [1, 0, 2, 3], True, True, None),
    (T("2 > 1 > 4 > 3"), 4, True, GOOD, True, True, None),
    (T("3 > " + "9" * 30 + " > 1"), 4, True, [2, 0, 1, 3], True, True, None),
    (T("[2], [1], [4], [3]"), 4, True, GOOD, True, True, None),
    (T("1. [2]\n2. [1]\n3. [4]\n4. [3]"), 4, True, GOOD, True, True, None),
    (T("```\n[2] > [1] > [4] > [3]\n```"), 4, True, GOOD, True, True, None),
    (T("**[2] > [1] > [4] > [3]**"), 4, True, GOOD, True, True, None),
    (T("The ranking is [2] > [1] > [4] > [3]."), 4, True, GOOD, True, True, None),
    (T("[01] > [2] > [3] > [4]"), 4, True, [0, 1, 2, 3], True, True, None),
    (T("[２] > [１] > [４] > [３]"), 4, True, GOOD, True, True, None),
    (T("[2] > [1] > [4] > [3] 👍 très bien"), 4, True, GOOD, True, True, None),
    (T("[-1] > [2]"), 4, True, [1, 0, 2, 3], True, True, None),
    (T("[1] > " * 3_000 + "[2]"), 4, True, [0, 1, 2, 3], True, True, None),
    (T("[1] > " * 100_000 + "[2]"), 4, False, None, True, False, "answer is longer than 20000 characters"),
    (T(""), 4, False, None, True, False, NO_IDS),
    (T("I cannot rank these passages."), 4, False, None, True, False, NO_IDS),
    (T("2, 1, 4, 3"), 4, False, None, True, False, NO_IDS),
    (T("second > first"), 4, False, None, True, False, NO_IDS),
    (T("[7] > [9]"), 4, False, None, True, False, "answer has no passage id inside 1..4"),
    (T("[0]"), 4, False, None, True, False, "answer has no passage id inside 1..4"),
    (
        "<think>[4] > [3] > [2] > [1]</think><answer>[1] > [2] > [3] > [4]</answer>",
        4,
        True,
        [0, 1, 2, 3],
        True,
        False,
        None,
    ),
    ("<think>[4] > [3] > [2] > [1]</think>", 4, False, None, False, False, NO_BLOCK),
    ("<think>x</think> [4] > [3] > [2] > [1]", 4, False, None, False, False, NO_BLOCK),
    ("[2] > [1] > [4] > [3]", 4, False, None, False, False, NO_BLOCK),
    ("", 4, False, None, False, False, NO_BLOCK),
    ("<think>x</think><answer>[4] > [3]", 4, False, None, False, False, NO_BLOCK),
    ("<answer>[2] > [1] > [4] > [3]</answer>", 4, True, GOOD, False, False, None),
    (
        "<think>x</think><answer>[4] > [3] > [2] > [1]</answer><answer>[2] > [1] > [4] > [3]</answer>",
        4,
        True,
        GOOD,
        False,
        False,
        None,
    ),
    (
        "<think>x</think><answer><answer>[2] > [1] > [4] > [3]</answer></answer>",
        4,
        True,
        GOOD,
        False,
        False,
        None,
    ),
    ("<think>x</think><answer>[2] > [1] > [4] > [3]</answer>\nDone.", 4, True, GOOD, False, False, None),
    ("<think>x<answer>[2] > [1] > [4] > [3]</answer>", 4, True, GOOD, False, False, None),
    ("x</think><answer>[2] > [1] > [4] > [3]</answer>", 4, True, GOOD, False, False, None),
    ("<Think>x</Think><Answer>[2] > [1]</Answer>", 4, False, None, False, False, NO_BLOCK),
    (
        T("[2] > [1] > [4] > [3]"),
        0,
        False,
        None,
        True,
        False,
        "num_passages must be an integer in 1..100000, got 0",
    ),
    (
        T("[2] > [1]"),
        10**9,
        False,
        None,
        True,
        False,
        "num_passages must be an integer in 1..100000, got 1000000000",
    ),
]


@pytest.mark.parametrize(("completion", "n", "ok", "value", "fmt", "rep", "error"), CASES)
def test_adversarial(completion, n, ok, value, fmt, rep, error):
    p = get_paradigm("listwise").parse(completion, n)
    assert (p.ok, p.value, p.format_ok, p.repaired, p.error) == (ok, value, fmt, rep, error)


def test_case_count():
    assert len(CASES) >= 30


def test_ids_while_thinking_never_count():
    p = get_paradigm("listwise").parse("<think>clearly [3] > [1]</think><answer>[1] > [2] > [3]</answer>", 3)
    assert (p.value, p.reasoning, p.answer) == ([0, 1, 2], "clearly [3] > [1]", "[1] > [2] > [3]")


@pytest.mark.parametrize(
    ("completion", "value"),
    [
        ("<think>x</think> [3] > [1] > [2]", [2, 0, 1]),
        ("<think>x</think><answer>[3] > [1]", [2, 0, 1]),  # cut at the length limit
        ("[2] > [3]", [1, 2, 0]),
        ("<think>[3] > [1] > [2]", None),  # unclosed think: never read
        ("<think>x</think> nothing", None),
    ],
)
def test_fallback(completion, value):
    p = get_paradigm("listwise", answer_fallback=True).parse(completion, 3)
    assert (p.ok, p.value, p.format_ok) == (value is not None, value, False)
    assert p.repaired is (value is not None)


def test_render_answer():
    lw = get_paradigm("listwise")
    assert lw.render_answer([2, 0, 1], "r") == "<think>\nr\n</think>\n<answer>[3] > [1] > [2]</answer>"
    assert lw.render_answer((0,)) == "<think>\n\n</think>\n<answer>[1]</answer>"
    for bad in ([], [0, 0], [1, 2], [0, 2], "012", [0, True], [0.0, 1], None):
        with pytest.raises(RankrlError, match="listwise value"):
            lw.render_answer(bad)
