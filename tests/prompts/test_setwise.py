"""Setwise parsing: literal adversarial completions with their exact Parsed fields."""

from __future__ import annotations

import pytest

from rankrl.core.errors import RankrlError
from rankrl.prompts import get_paradigm


def T(answer: str, think: str = "compare them") -> str:
    return f"<think>{think}</think>\n<answer>{answer}</answer>"


NO_BLOCK = "no <answer>…</answer> block"
NO_ID = "answer has no passage id"

# (completion, num_passages, ok, value, format_ok, repaired, error)
CASES = [
    (T("[3]"), 5, True, 2, True, False, None),
    (T(" [ 3 ] "), 5, True, 2, True, False, None),
    (T("[1]"), 1, True, 0, True, False, None),
    (T("3"), 5, True, 2, True, True, None),
    (T("[3]."), 5, True, 2, True, True, None),
    (T("Passage [3] is the best."), 5, True, 2, True, True, None),
    (T("[3] because [3] mentions the date"), 5, True, 2, True, True, None),
    (T("**[2]**"), 5, True, 1, True, True, None),
    (T("```\n[2]\n```"), 5, True, 1, True, True, None),
    (T("[01]"), 5, True, 0, True, True, None),
    (T("[２]"), 5, True, 1, True, True, None),  # full-width digit is still the id 2
    (T("[٣]"), 5, True, 2, True, True, None),  # Arabic-Indic digit three
    (T("最好的是 [4] 🎉"), 5, True, 3, True, True, None),
    (T("[3] (the 2nd is close)"), 5, True, 2, True, True, None),
    (T("[2] or [5]"), 5, False, None, True, False, "answer names several different passages: [2], [5]"),
    (
        T("[1] > [2] > [3]"),
        5,
        False,
        None,
        True,
        False,
        "answer names several different passages: [1], [2], [3]",
    ),
    (T("[6]"), 5, False, None, True, False, "passage id 6 is outside 1..5"),
    (T("[0]"), 5, False, None, True, False, "passage id 0 is outside 1..5"),
    (T("0"), 5, False, None, True, False, "passage id 0 is outside 1..5"),
    (T("[" + "9" * 40 + "]"), 5, False, None, True, False, "passage id <huge> is outside 1..5"),
    (
        T("[2] [" + "9" * 40 + "]"),
        5,
        False,
        None,
        True,
        False,
        "answer names several different passages: [2], [<huge>]",
    ),
    (T(""), 5, False, None, True, False, NO_ID),
    (T("[2]" * 7_000), 5, False, None, True, False, "answer is longer than 20000 characters"),
    (T("   \n "), 5, False, None, True, False, NO_ID),
    (T("None of them is relevant."), 5, False, None, True, False, NO_ID),
    (T("[-1]"), 5, False, None, True, False, NO_ID),
    (T("the third one"), 5, False, None, True, False, NO_ID),
    (T("3 or 4"), 5, False, None, True, False, NO_ID),
    ("<think>[1] looks right</think><answer>[4]</answer>", 5, True, 3, True, False, None),
    ("<answer>[2]</answer>", 5, True, 1, False, False, None),
    ("[2]", 5, False, None, False, False, NO_BLOCK),
    ("", 5, False, None, False, False, NO_BLOCK),
    ("<think>[2] is best</think>", 5, False, None, False, False, NO_BLOCK),
    ("<think>x</think><answer>[2]", 5, False, None, False, False, NO_BLOCK),
    ("<THINK>x</THINK><ANSWER>[2]</ANSWER>", 5, False, None, False, False, NO_BLOCK),
    ("<think>x</think><answer>[1]</answer><answer>[2]</answer>", 5, True, 1, False, False, None),
    ("<think><think>x</think></think><answer>[2]</answer>", 5, True, 1, False, False, None),
    ("<think>x</think><answer><answer>[5]</answer></answer>", 5, True, 4, False, False, None),
    ("<think>x</think><answer>[2]</answer> Let me know if you need more.", 5, True, 1, False, False, None),
    ("Sure.<think>x</think><answer>[2]</answer>", 5, True, 1, False, False, None),
    ("x</think><answer>[2]</answer>", 5, True, 1, False, False, None),
    ("<think>maybe <answer>[1]</answer></think>", 5, True, 0, False, False, None),
    (
        "<think>" + "passage [1] vs [2]; " * 20_000 + "</think><answer>[5]</answer>",
        5,
        True,
        4,
        True,
        False,
        None,
    ),
    (T("[3]"), 0, False, None, True, False, "num_passages must be an integer in 1..100000, got 0"),
    (T("[3]"), True, False, None, True, False, "num_passages must be an integer in 1..100000, got True"),
]


@pytest.mark.parametrize(("completion", "n", "ok", "value", "fmt", "rep", "error"), CASES)
def test_adversarial(completion, n, ok, value, fmt, rep, error):
    p = get_paradigm("setwise").parse(completion, n)
    assert (p.ok, p.value, p.format_ok, p.repaired, p.error) == (ok, value, fmt, rep, error)


def test_case_count():
    assert len(CASES) >= 30


def test_reasoning_and_answer_fields():
    p = get_paradigm("setwise").parse("<think>\n [1] is off-topic \n</think>\n<answer> [2] </answer>", 3)
    assert (p.reasoning, p.answer) == ("[1] is off-topic", "[2]")
    p = get_paradigm("setwise").parse("<think>x</think><answer>nothing</answer>", 3)
    assert (p.reasoning, p.answer, p.ok) == ("x", "nothing", False)


def test_prefilled_think():
    p = get_paradigm("setwise", think_prefilled=True).parse("reasoning</think>\n<answer>[2]</answer>", 3)
    assert (p.ok, p.value, p.format_ok, p.repaired, p.reasoning) == (True, 1, True, False, "reasoning")


@pytest.mark.parametrize(
    ("completion", "value"),
    [("[2]", 1), ("<think>a</think> [3]", 2), ("<think>a</think><answer> [3]", 2), ("answer: 4", None)],
)
def test_fallback_reads_untagged_answers_as_repaired(completion, value):
    p = get_paradigm("setwise", answer_fallback=True).parse(completion, 5)
    assert (p.ok, p.value, p.format_ok) == (value is not None, value, False)
    assert p.repaired is (value is not None)


def test_conversational_completion():
    p = get_paradigm("setwise").parse([{"role": "assistant", "content": T("[2]")}], 3)
    assert (p.ok, p.value, p.format_ok) == (True, 1, True)
    assert get_paradigm("setwise").parse(None, 3).error == NO_BLOCK  # type: ignore[arg-type]


def test_render_answer():
    s = get_paradigm("setwise")
    assert s.render_answer(2, "because") == "<think>\nbecause\n</think>\n<answer>[3]</answer>"
    assert (
        get_paradigm("setwise", think_prefilled=True).render_answer(0) == "\n</think>\n<answer>[1]</answer>"
    )
    for bad in (-1, 1.0, True, "2", None):
        with pytest.raises(RankrlError, match="0-based passage index"):
            s.render_answer(bad)
    with pytest.raises(RankrlError, match="must not contain"):
        s.render_answer(1, "a </think> b")
