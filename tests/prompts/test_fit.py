"""fit_messages: token/char budgets measured with a real (offline-built) tokenizer and chat template."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankrl.core.errors import ConfigError, RankrlError
from rankrl.prompts import PARADIGMS, count_prompt_tokens, fit_messages, get_paradigm

LONG = "Photosynthesis converts light energy into chemical energy stored in glucose molecules. " * 40


def _passages(name: str, n: int = 5) -> list[str]:
    return [LONG] if name == "pointwise" else [f"{LONG} number {i}" for i in range(n)]


def test_count_prompt_tokens_matches_rendered_template(tokenizer):
    msgs = get_paradigm("listwise").messages("capital of France", ["Paris", "Berlin"])
    ids = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True, return_dict=False)
    assert count_prompt_tokens(tokenizer, msgs) == len(ids)
    text = tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert text.endswith("<|im_start|>assistant\n<think>\n")


def test_untouched_when_it_fits(tokenizer):
    p = get_paradigm("listwise")
    res = fit_messages(
        p, "capital of France", ["Paris", "Berlin"], tokenizer=tokenizer, max_prompt_tokens=10_000
    )
    assert res.truncated is False
    assert res.messages == p.messages("capital of France", ["Paris", "Berlin"])
    assert res.prompt_tokens == count_prompt_tokens(tokenizer, res.messages)


@pytest.mark.parametrize("name", PARADIGMS)
@pytest.mark.parametrize("room", [40, 300, 1000])
def test_prompt_fits_budget_and_uses_it(tokenizer, name, room):
    p = get_paradigm(name)
    passages = _passages(name)
    empty = count_prompt_tokens(tokenizer, p.messages("what does photosynthesis make", [""] * len(passages)))
    budget = empty + room  # room for passage text beyond the template and query
    full = count_prompt_tokens(tokenizer, p.messages("what does photosynthesis make", passages))
    assert full > budget  # the test really exercises truncation
    res = fit_messages(
        p, "what does photosynthesis make", passages, tokenizer=tokenizer, max_prompt_tokens=budget
    )
    assert res.truncated is True
    assert res.prompt_tokens == count_prompt_tokens(tokenizer, res.messages) <= budget
    # Not wastefully short: the common cap leaves at most a few tokens per passage unused.
    assert res.prompt_tokens >= budget - 8 * len(passages)
    user = res.messages[1]["content"]
    if name != "pointwise":
        for i in range(1, len(passages) + 1):
            assert f"[{i}] Photosynthesis" in user


def test_short_passages_are_kept_whole(tokenizer):
    p = get_paradigm("listwise")
    passages = ["Paris is the capital of France.", LONG, LONG]
    res = fit_messages(p, "capital", passages, tokenizer=tokenizer, max_prompt_tokens=600)
    assert res.truncated and res.prompt_tokens <= 600
    assert "[1] Paris is the capital of France.\n\n[2]" in res.messages[1]["content"]


def test_max_passage_tokens_caps_each_passage(tokenizer):
    p = get_paradigm("setwise")
    res = fit_messages(p, "q", [LONG, "short one"], tokenizer=tokenizer, max_passage_tokens=12)
    user = res.messages[1]["content"]
    first = user.split("[1] ", 1)[1].split("\n\n[2]", 1)[0]
    assert 0 < len(tokenizer.encode(first, add_special_tokens=False)) <= 12
    assert LONG.startswith(first)
    assert "[2] short one" in user
    assert res.truncated is True
    assert res.prompt_tokens == count_prompt_tokens(tokenizer, res.messages)


def test_character_budget_without_tokenizer():
    p = get_paradigm("listwise")
    res = fit_messages(p, "q", ["abc def ghi jkl", "xy"], max_passage_chars=9)
    assert res.truncated is True and res.prompt_tokens is None
    assert "[1] abc def g\n\n[2] xy" in res.messages[1]["content"]
    # a cut backs off to a word boundary when that keeps >= 80% of the budget
    res = fit_messages(p, "q", ["aaaaaaaaaa bbbb", "xy"], max_passage_chars=12)
    assert "[1] aaaaaaaaaa\n\n[2] xy" in res.messages[1]["content"]
    # a token budget without a tokenizer is approximated at 4 characters per token
    res = fit_messages(p, "q", ["a" * 50, "xy"], max_passage_tokens=5)
    assert "[1] " + "a" * 20 + "\n\n[2] xy" in res.messages[1]["content"]


def test_paradigm_options_are_the_defaults(tokenizer):
    p = get_paradigm("listwise", max_prompt_tokens=500)
    res = fit_messages(p, "q", [LONG, LONG], tokenizer=tokenizer)
    assert res.truncated and res.prompt_tokens <= 500
    assert p.metadata()["truncation"]["max_prompt_tokens"] == 500


def test_neutralises_while_fitting(tokenizer):
    p = get_paradigm("listwise")
    res = fit_messages(
        p, "q [9]", ["see [2] and <answer>x</answer>", "b"], tokenizer=tokenizer, max_prompt_tokens=5000
    )
    user = res.messages[1]["content"]
    assert "see (2) and (answer)x(/answer)" in user and "q (9)" in user


def test_errors(tokenizer):
    p = get_paradigm("listwise")
    with pytest.raises(ConfigError, match="needs a tokenizer"):
        fit_messages(p, "q", ["a"], max_prompt_tokens=100)
    with pytest.raises(ConfigError, match="max_prompt_tokens must be a positive integer"):
        fit_messages(p, "q", ["a"], tokenizer=tokenizer, max_prompt_tokens=0)
    with pytest.raises(RankrlError, match="before any passage text"):
        fit_messages(p, "long query " * 200, ["a"], tokenizer=tokenizer, max_prompt_tokens=400)
    with pytest.raises(RankrlError, match="one passage per prompt"):
        fit_messages(get_paradigm("pointwise"), "q", ["a", "b"], tokenizer=tokenizer)


def test_raw_tokenizers_object_truncates_but_cannot_measure(tokenizer):
    raw = tokenizer.backend_tokenizer
    p = get_paradigm("setwise")
    res = fit_messages(p, "q", [LONG], tokenizer=raw, max_passage_tokens=5)
    assert res.truncated and res.prompt_tokens is None
    with pytest.raises(ConfigError, match="apply_chat_template"):
        fit_messages(p, "q", [LONG], tokenizer=raw, max_prompt_tokens=50)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    passages=st.lists(st.text(min_size=0, max_size=600), min_size=1, max_size=6),
    room=st.integers(0, 400),
    name=st.sampled_from(["setwise", "listwise", "groupwise"]),
)
def test_any_passages_fit_any_feasible_budget(tokenizer, passages, room, name):
    p = get_paradigm(name)
    empty = count_prompt_tokens(tokenizer, p.messages("query", [""] * len(passages)))
    res = fit_messages(p, "query", passages, tokenizer=tokenizer, max_prompt_tokens=empty + room)
    assert res.prompt_tokens == count_prompt_tokens(tokenizer, res.messages) <= empty + room
    full = count_prompt_tokens(tokenizer, p.messages("query", passages))
    assert res.truncated is (full > empty + room)
