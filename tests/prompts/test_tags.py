"""The shared tag rules: structure (format_ok), reasoning and answer extraction."""

from __future__ import annotations

import pytest

from rankrl.prompts.tags import contains_tag, scan

WELL = "<think>why</think><answer>[1]</answer>"


@pytest.mark.parametrize(
    ("text", "ok", "problem"),
    [
        (WELL, True, None),
        ("  \n<think>\nwhy\n</think>\n\n<answer> [1] </answer>\n ", True, None),
        ("<think></think><answer></answer>", True, None),
        ("why</think><answer>[1]</answer>", False, "missing <think>"),
        ("<think>why<answer>[1]</answer>", False, "missing </think>"),
        ("<think>why</think>[1]</answer>", False, "missing <answer>"),
        ("<think>why</think><answer>[1]", False, "missing </answer>"),
        ("[1]", False, "missing <think>, </think>, <answer>, </answer>"),
        ("<think>a</think><think>b</think><answer>[1]</answer>", False, "repeated <think>, </think>"),
        ("<think><think>a</think></think><answer>[1]</answer>", False, "repeated <think>, </think>"),
        ("<think>a</think><answer>[1]</answer><answer>[2]</answer>", False, "repeated <answer>, </answer>"),
        (
            "<answer>[1]</answer><think>a</think>",
            False,
            "tags out of order: <answer> </answer> <think> </think>",
        ),
        (
            "<think>a<answer>[1]</answer></think>",
            False,
            "tags out of order: <think> <answer> </answer> </think>",
        ),
        ("Sure! <think>a</think><answer>[1]</answer>", False, "text outside the <think> and <answer> blocks"),
        ("<think>a</think> so: <answer>[1]</answer>", False, "text outside the <think> and <answer> blocks"),
        (
            "<think>a</think><answer>[1]</answer> Hope this helps",
            False,
            "text outside the <think> and <answer> blocks",
        ),
        ("<THINK>a</THINK><ANSWER>[1]</ANSWER>", False, "missing <think>, </think>, <answer>, </answer>"),
        ("", False, "missing <think>, </think>, <answer>, </answer>"),
    ],
)
def test_structure(text, ok, problem):
    s = scan(text)
    assert s.format_ok is ok
    assert s.problem == problem


def test_prefilled_think_accepts_missing_opening_tag():
    assert scan("why</think>\n<answer>[1]</answer>", think_prefilled=True).format_ok is True
    assert scan("why</think>\n<answer>[1]</answer>", think_prefilled=True).reasoning == "why"
    assert scan(WELL, think_prefilled=True).format_ok is True  # the model may repeat the opening tag
    bad = scan("why</think> x <answer>[1]</answer>", think_prefilled=True)
    assert (bad.format_ok, bad.problem) == (False, "text outside the <think> and <answer> blocks")
    assert scan("why<answer>[1]</answer>", think_prefilled=True).problem == "missing </think>"


def test_answer_is_last_complete_block_innermost():
    assert scan("<answer>a</answer><answer>b</answer>").answer == "b"
    assert scan("<answer>a</answer><answer>b").answer == "a"
    assert scan("<answer><answer>inner</answer></answer>").answer == "inner"
    assert scan("<answer>x <answer>inner</answer> y</answer>").answer == "inner"
    assert scan("<think><answer>in think</answer></think>").answer == "in think"
    assert scan("</answer><answer>").answer is None


def test_reasoning_extraction():
    assert scan("<think>  a [2] b \n</think><answer>x</answer>").reasoning == "a [2] b"
    assert scan("pre</think><answer>x</answer>").reasoning == "pre"
    assert scan("<think>open ended<answer>x</answer>").reasoning == "open ended"
    assert scan("<think>never closed").reasoning == "never closed"
    assert scan("<think>one</think><think>two</think>").reasoning == "one"
    assert scan("no tags").reasoning == ""


def test_fallback_rules():
    # off by default: no complete block, no answer
    assert scan("<think>a</think> [2]").answer is None
    s = scan("<think>a</think> [2] ", answer_fallback=True)
    assert (s.answer, s.from_fallback, s.format_ok) == ("[2]", True, False)
    assert scan("<think>a</think><answer> [3] > [1]", answer_fallback=True).answer == "[3] > [1]"
    assert scan("[4]", answer_fallback=True).answer == "[4]"
    # text inside an unclosed think block is never an answer
    assert scan("<think>[4] is best", answer_fallback=True).answer is None
    # a complete block wins over the fallback
    s = scan("<think>a</think><answer>[1]</answer> [2]", answer_fallback=True)
    assert (s.answer, s.from_fallback) == ("[1]", False)
    # the fallback stops at the next tag
    assert scan("x</think> [2] <think> [3]", answer_fallback=True).answer == "[2]"


def test_counts_and_non_string_input():
    s = scan("<think><think></think><answer>")
    assert s.counts == {"<think>": 2, "</think>": 1, "<answer>": 1, "</answer>": 0}
    assert scan(None).answer is None  # type: ignore[arg-type]
    assert scan(12).format_ok is False  # type: ignore[arg-type]


def test_contains_tag():
    assert contains_tag("a </answer> b") and contains_tag("<think>")
    assert not contains_tag("<Think> <answers> < think>")
