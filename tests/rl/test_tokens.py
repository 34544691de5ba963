"""The start-up check that the answer tags survive TRL's ``decode(skip_special_tokens=True)``."""

from __future__ import annotations

import pytest

from rankrl.core.errors import RankrlError
from rankrl.rl.tiny_model import build_tokenizer
from rankrl.rl.tokens import ANSWER_TAGS, check_answer_tags, vanishing_tags


def test_tiny_tokenizer_passes():
    tok = build_tokenizer(seed=0)
    assert vanishing_tags(tok) == []
    check_answer_tags(tok)


def test_tags_registered_as_special_tokens_are_reported():
    tok = build_tokenizer(seed=0)
    tok.add_special_tokens({"additional_special_tokens": ["<answer>", "</answer>"]})
    assert vanishing_tags(tok) == ["<answer>", "</answer>"]
    with pytest.raises(RankrlError) as err:
        check_answer_tags(tok, source="my-model tokenizer")
    message = str(err.value)
    assert "my-model tokenizer" in message and "<answer> (registered as a special token)" in message
    assert "<think>" not in message.split("tags")[1].split("disappear")[0]


def test_all_four_tags_are_checked():
    assert ANSWER_TAGS == ("<think>", "</think>", "<answer>", "</answer>")
