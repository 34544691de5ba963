"""The single-pass fast path of ``prompts.tags.locate`` must agree with the general rules on every input."""

from hypothesis import given, settings
from hypothesis import strategies as st

from rankrl.prompts.tags import _locate_general, locate

PIECES = st.sampled_from(["<think>", "</think>", "<answer>", "</answer>", " ", "\n", "x", "[1] > [2]", "7", "{}"])
TEXTS = st.lists(PIECES, max_size=14).map("".join) | st.text(max_size=60)


@settings(max_examples=600, deadline=None)
@given(TEXTS, st.booleans(), st.booleans())
def test_locate_equals_the_general_rules(text, think_prefilled, answer_fallback):
    assert locate(text, think_prefilled, answer_fallback) == _locate_general(text, think_prefilled, answer_fallback)


def test_fast_path_cases_are_covered_by_the_property():
    strict = "<think> r </think>\n<answer>[1]</answer>"
    prefilled = " r </think><answer>[1]</answer>"
    for text in (strict, prefilled, "junk" + strict):
        for flag in (False, True):
            assert locate(text, flag, False) == _locate_general(text, flag, False)
    assert locate(strict)[0] is True and locate(prefilled, True)[0] is True and locate(prefilled)[0] is False
