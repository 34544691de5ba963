"""Hypothesis properties for all paradigms: round trips, never raising, valid values, linear time."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankrl.prompts import PARADIGMS, get_paradigm
from rankrl.prompts.paradigm import MAX_ANSWER_CHARS
from rankrl.prompts.tags import contains_tag

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

reasoning_text = st.text(max_size=200).filter(lambda s: not contains_tag(s)).map(str.strip)
prefilled = st.booleans()


@FAST
@given(st.integers(1, 40).flatmap(lambda n: st.permutations(list(range(n)))), reasoning_text, prefilled)
def test_listwise_permutation_round_trips(perm, reasoning, think_prefilled):
    p = get_paradigm("listwise", think_prefilled=think_prefilled)
    got = p.parse(p.render_answer(perm, reasoning), len(perm))
    assert (got.ok, got.value, got.format_ok, got.repaired, got.error) == (
        True,
        list(perm),
        True,
        False,
        None,
    )
    assert got.reasoning == reasoning


@FAST
@given(
    st.integers(1, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
    reasoning_text,
    prefilled,
)
def test_setwise_index_round_trips(n_and_index, reasoning, think_prefilled):
    n, index = n_and_index
    p = get_paradigm("setwise", think_prefilled=think_prefilled)
    got = p.parse(p.render_answer(index, reasoning), n)
    assert (got.ok, got.value, got.format_ok, got.repaired, got.reasoning) == (
        True,
        index,
        True,
        False,
        reasoning,
    )


@FAST
@given(st.integers(0, 10), reasoning_text, prefilled)
def test_pointwise_score_round_trips(score, reasoning, think_prefilled):
    p = get_paradigm("pointwise", think_prefilled=think_prefilled)
    got = p.parse(p.render_answer(float(score), reasoning), 1)
    assert (got.ok, got.value, got.format_ok, got.repaired, got.reasoning) == (
        True,
        float(score),
        True,
        False,
        reasoning,
    )
    b = get_paradigm("pointwise", template="pointwise-binary", think_prefilled=think_prefilled)
    got = b.parse(b.render_answer(float(score % 2), reasoning), 1)
    assert (got.ok, got.value, got.repaired) == (True, float(score % 2), False)


@FAST
@given(st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=1, max_size=30), reasoning_text, prefilled)
def test_groupwise_scores_round_trip(scores, reasoning, think_prefilled):
    p = get_paradigm("groupwise", think_prefilled=think_prefilled)
    got = p.parse(p.render_answer(scores, reasoning), len(scores))
    assert (got.ok, got.format_ok, got.repaired, got.reasoning) == (True, True, False, reasoning)
    assert got.value == [float(s) for s in scores]


# Text built from the pieces parsers care about, plus arbitrary unicode.
PIECES = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "[1]",
    "[2]",
    "[3]",
    "[0]",
    "[99]",
    " > ",
    ">",
    "{",
    "}",
    '"[1]"',
    '"[2]":',
    ":",
    ",",
    " 7",
    "10",
    "-3",
    "6.5",
    "/10",
    "true",
    "false",
    "```",
    "'",
    '"',
    "\n",
    " ",
    "NaN",
    "[",
    "]",
    "1e999",
    "9" * 30,
]
adversarial = st.one_of(
    st.text(),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=40).map("".join),
)


def _check_value(name: str, parsed, n: int) -> None:
    if not parsed.ok:
        assert parsed.value is None and parsed.error and not parsed.error.startswith("internal")
        assert parsed.repaired is False
        return
    assert parsed.error is None
    v = parsed.value
    if name == "setwise":
        assert isinstance(v, int) and 0 <= v < n
    elif name == "listwise":
        assert sorted(v) == list(range(n))
    elif name == "pointwise":
        assert isinstance(v, float) and 0.0 <= v <= 10.0 and v.is_integer()
    else:
        assert len(v) == n and all(isinstance(x, float) and 0.0 <= x <= 10.0 for x in v)


@pytest.mark.parametrize("name", PARADIGMS)
@settings(max_examples=300, deadline=None)
@given(text=adversarial, n=st.integers(1, 6), prefilled=st.booleans(), fallback=st.booleans())
def test_parse_never_raises_and_values_are_valid(name, text, n, prefilled, fallback):
    p = get_paradigm(name, think_prefilled=prefilled, answer_fallback=fallback)
    parsed = p.parse(text, n)
    _check_value(name, parsed, n)
    if parsed.format_ok:
        assert text.count("</think>") == 1 and text.count("<answer>") == 1 and text.count("</answer>") == 1


@pytest.mark.parametrize("name", PARADIGMS)
@settings(max_examples=50, deadline=None)
@given(
    n=st.one_of(st.integers(-5, 0), st.integers(10**6, 10**12), st.none(), st.text(max_size=3), st.floats())
)
def test_parse_never_raises_on_bad_num_passages(name, n):
    parsed = get_paradigm(name).parse("<think>x</think><answer>[1] > [2]</answer>", n)
    if name != "pointwise":
        assert parsed.ok is False and parsed.error.startswith("num_passages must be")


# Each is ~300 KB and aimed at a regex or loop that could go quadratic; answers over MAX_ANSWER_CHARS are refused
# before reading, so the "near cap" ones put a just-short answer inside 300 KB of reasoning to make every
# paradigm's reader run on its worst case.
def _near_cap(answer_body: str) -> str:
    return (
        "<think>" + "<x>" * 93_000 + "</think><answer>" + answer_body[: MAX_ANSWER_CHARS - 10] + "</answer>"
    )


NEAR_CAP = {
    "near cap: json keys": _near_cap("{" + "1: 3," * 5000) + "",
    "near cap: trailing commas": _near_cap("{" + ", " * 10_000),
    "near cap: nested json": _near_cap('{"[1]": ' + "[" * 20_000),
    "near cap: bracket digits": _near_cap("[ 1" * 7000),
    "near cap: same number": _near_cap("7 " * 10_000),
    "near cap: ids": _near_cap("[1] > " * 4000),
    "near cap: true": _near_cap("true " * 4000),
}
HUGE = {
    "long reasoning": "<think>" + "[3] > [1] maybe 7 {" * 16_000 + "</think><answer>[2]</answer>",
    "open brackets": "<answer>" + "[" * 300_000 + "</answer>",
    "open tags": "<answer>" * 37_000,
    "close tags": "</answer>" * 33_000,
    "alternating tags": "<think></think>" * 20_000,
    "digits": "<answer>" + "1" * 300_000 + "</answer>",
    "digits then dot": "<answer>" + "1" * 300_000 + ".</answer>",
    "bracket digits unclosed": "<answer>" + "[ 1" * 100_000 + "</answer>",
    "spaces in brackets": "<answer>[" + " " * 300_000 + "</answer>",
    "bare chain": "<answer>" + " 1 >" * 75_000 + " x</answer>",
    "json over the cap": "<answer>{" + '"[1]": 3, ' * 30_000 + "}</answer>",
    "decimals": "<answer>" + "1." * 150_000 + "</answer>",
    "true words": "<answer>" + "true " * 60_000 + "</answer>",
    "unicode": "<think>" + "é😀[٣]" * 60_000 + "</think><answer>[1]</answer>",
    **NEAR_CAP,
}


@pytest.mark.parametrize("name", PARADIGMS)
@pytest.mark.parametrize("label", sorted(HUGE))
def test_linear_time_on_300kb(name, label):
    text = HUGE[label]
    assert len(text) >= 250_000
    p = get_paradigm(name, answer_fallback=True)
    start = time.perf_counter()
    parsed = p.parse(text, 20 if name != "pointwise" else 1)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"{name} took {elapsed:.3f}s on {label!r}"  # a guard against quadratic paths
    _check_value(name, parsed, 20 if name != "pointwise" else 1)
