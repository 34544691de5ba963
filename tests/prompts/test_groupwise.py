"""Groupwise parsing: literal adversarial completions with their exact Parsed fields."""

from __future__ import annotations

import json

import pytest

from rankrl.core.errors import RankrlError
from rankrl.prompts import get_paradigm
from rankrl.prompts.paradigm import MAX_ANSWER_CHARS


def T(answer: str, think: str = "score them") -> str:
    return f"<think>{think}</think>\n<answer>{answer}</answer>"


NO_BLOCK = "no <answer>…</answer> block"
NO_OBJECT = "answer has no JSON object"
UNREADABLE = "answer is not a readable JSON object"
NONE_IN_RANGE = "answer scores no passage inside 1..3"
V = [7.0, 3.0, 0.0]

# (completion, ok, value, format_ok, repaired, error) with num_passages = 3
CASES = [
    (T('{"[1]": 7, "[2]": 3, "[3]": 0}'), True, V, True, False, None),
    (T('{"[1]":7,"[2]":3,"[3]":0}'), True, V, True, False, None),
    (T('\n{\n  "[1]": 7,\n  "[2]": 3,\n  "[3]": 0\n}\n'), True, V, True, False, None),
    (T('{"[1]": 7.5, "[2]": 3.25, "[3]": 0}'), True, [7.5, 3.25, 0.0], True, False, None),
    (T('{"[3]": 0, "[1]": 7, "[2]": 3}'), True, V, True, False, None),
    (T('{"[1]": 7, "[2]": 3, "[3]": 0,}'), True, V, True, True, None),
    (T('{"[1]": 7, "[2]": 3, "[3]": 0 , \n }'), True, V, True, True, None),
    (T('```json\n{"[1]": 7, "[2]": 3, "[3]": 0}\n```'), True, V, True, True, None),
    (T('Scores: {"[1]": 7, "[2]": 3, "[3]": 0} as requested'), True, V, True, True, None),
    (T("{1: 7, 2: 3, 3: 0}"), True, V, True, True, None),
    (T("{[1]: 7, [2]: 3, [3]: 0,}"), True, V, True, True, None),
    (T('{"1": 7, "2": 3, "3": 0}'), True, V, True, True, None),
    (T("{'[1]': 7, '[2]': 3, '[3]': 0}"), True, V, True, True, None),
    (T('{"[１]": 7, "[2]": 3, "[3]": 0}'), True, V, True, True, None),
    (T('{"[1]": "7", "[2]": 3, "[3]": 0}'), True, V, True, True, None),
    (T('{"[1]": 7, "[2]": 3}'), True, V, True, True, None),
    (T('{"[2]": 9}'), True, [0.0, 9.0, 0.0], True, True, None),
    (T('{"[1]": 7, "[2]": 3, "[3]": 0, "[4]": 9}'), True, V, True, True, None),
    (T('{"[1]": 7, "[1]": 2, "[2]": 3, "[3]": 0}'), True, V, True, True, None),
    (T('{"[0]": 5, "[1]": 7, "[2]": 3, "[3]": 0}'), True, V, True, True, None),
    (T('{"[1]": -0.0, "[2]": 10, "[3]": 0}'), True, [0.0, 10.0, 0.0], True, False, None),
    (T('{"[1]": "high", "[2]": 3, "[3]": 0}'), False, None, True, False, "score for '[1]' is not a number"),
    (T('{"[1]": true, "[2]": 3, "[3]": 0}'), False, None, True, False, "score for '[1]' is not a number"),
    (T('{"[1]": null}'), False, None, True, False, "score for '[1]' is not a number"),
    (T('{"[1]": [7]}'), False, None, True, False, "score for '[1]' is not a number"),
    (T('{"[1]": {"relevance": 7}}'), False, None, True, False, "score for '[1]' is not a number"),
    (T('{"[1]": 11, "[2]": 3, "[3]": 0}'), False, None, True, False, "score 11 for '[1]' is outside 0..10"),
    (T('{"[1]": -1, "[2]": 3, "[3]": 0}'), False, None, True, False, "score -1 for '[1]' is outside 0..10"),
    (T('{"[1]": 1e999}'), False, None, True, False, "score inf for '[1]' is outside 0..10"),
    (
        T('{"[1]": ' + "9" * 4000 + "}"),
        False,
        None,
        True,
        False,
        "score 99999999999999999999 for '[1]' is outside 0..10",
    ),
    (T('{"[1]": ' + "9" * 5000 + "}"), False, None, True, False, UNREADABLE),
    (T('{"[1]": NaN, "[2]": 3, "[3]": 0}'), False, None, True, False, UNREADABLE),
    (T('{"[1]": Infinity}'), False, None, True, False, UNREADABLE),
    (T('{"[1]": 7 // best\n}'), False, None, True, False, UNREADABLE),
    (T("{'[1]': __import__('os').getpid()}"), False, None, True, False, UNREADABLE),
    (T('{"[1]": ' + "[" * 9_000 + "]" * 9_000 + "}"), False, None, True, False, UNREADABLE),
    (T('{"relevance": 7}'), False, None, True, False, "key 'relevance' is not a passage label"),
    (T('{"[9]": 7}'), False, None, True, False, NONE_IN_RANGE),
    (T("{}"), False, None, True, False, NONE_IN_RANGE),
    (T(""), False, None, True, False, NO_OBJECT),
    (T("[7, 3, 0]"), False, None, True, False, NO_OBJECT),
    (T('{"[1]": 7, "[2]": 3'), False, None, True, False, NO_OBJECT),
    (T("} {"), False, None, True, False, NO_OBJECT),
    (T("[1]: 7, [2]: 3, [3]: 0"), False, None, True, False, NO_OBJECT),
    (
        T("x" * (MAX_ANSWER_CHARS + 1)),
        False,
        None,
        True,
        False,
        f"answer is longer than {MAX_ANSWER_CHARS} characters",
    ),
    (
        '<think>{"[1]": 0}</think><answer>{"[1]": 5, "[2]": 5, "[3]": 5}</answer>',
        True,
        [5.0] * 3,
        True,
        False,
        None,
    ),
    ('<think>{"[1]": 7, "[2]": 3, "[3]": 0}</think>', False, None, False, False, NO_BLOCK),
    ('{"[1]": 7, "[2]": 3, "[3]": 0}', False, None, False, False, NO_BLOCK),
    ('<answer>{"[1]": 7, "[2]": 3, "[3]": 0}</answer>', True, V, False, False, None),
    (
        '<think>x</think><answer>{"[1]": 1}</answer><answer>{"[1]": 7, "[2]": 3, "[3]": 0}</answer>',
        True,
        V,
        False,
        False,
        None,
    ),
    ('<think>x</think><answer>{"[1]": 7, "[2]": 3, "[3]": 0}</answer> done', True, V, False, False, None),
    (
        "<think>" + "[1] scores 7; " * 20_000 + '</think><answer>{"[1]": 7, "[2]": 3, "[3]": 0}</answer>',
        True,
        V,
        True,
        False,
        None,
    ),
]


@pytest.mark.parametrize(("completion", "ok", "value", "fmt", "rep", "error"), CASES)
def test_adversarial(completion, ok, value, fmt, rep, error):
    p = get_paradigm("groupwise").parse(completion, 3)
    assert (p.ok, p.value, p.format_ok, p.repaired, p.error) == (ok, value, fmt, rep, error)


def test_case_count():
    assert len(CASES) >= 30


def test_values_are_floats():
    p = get_paradigm("groupwise").parse(T('{"[1]": 7, "[2]": 3}'), 2)
    assert all(type(v) is float for v in p.value)


def test_fallback():
    p = get_paradigm("groupwise", answer_fallback=True).parse('<think>x</think>\n{"[1]": 4, "[2]": 2}', 2)
    assert (p.ok, p.value, p.format_ok, p.repaired) == (True, [4.0, 2.0], False, True)


def test_render_answer():
    gw = get_paradigm("groupwise")
    out = gw.render_answer([7.0, 3, 0.5], "r")
    assert out == '<think>\nr\n</think>\n<answer>{"[1]": 7, "[2]": 3, "[3]": 0.5}</answer>'
    assert json.loads(out.split("<answer>")[1].split("</answer>")[0]) == {"[1]": 7, "[2]": 3, "[3]": 0.5}
    for bad in ([], [11], [-0.5], [float("nan")], [float("inf")], ["7"], [True], "7", None, [10**400]):
        with pytest.raises(RankrlError, match="groupwise"):
            gw.render_answer(bad)
