"""Passage text helpers: neutralisation, character/token truncation, labels."""

from __future__ import annotations

from rankrl.prompts.passages import labelled_block, neutralise, truncate_chars, truncate_tokens


def test_neutralise_bracketed_numbers_and_tags():
    assert neutralise("see [3] and [ 12 ] but not [a] or [1a]") == "see (3) and (12) but not [a] or [1a]"
    assert neutralise("x <answer>[2]</answer> <think>y</think>") == "x (answer)(2)(/answer) (think)y(/think)"
    assert neutralise("<ANSWER>") == "(ANSWER)"
    assert neutralise("a < b > c [x]") == "a < b > c [x]"


def test_truncate_chars():
    assert truncate_chars("short", 10) == ("short", False)
    assert truncate_chars("short", None) == ("short", False)
    assert truncate_chars("abcdefghij", 4) == ("abcd", True)
    assert truncate_chars("aaaaaaaaaa bbbb", 12) == ("aaaaaaaaaa", True)  # back to a word boundary
    assert truncate_chars("é" * 20, 5) == ("é" * 5, True)


def test_truncate_tokens(tokenizer):
    text = "The capital of France is Paris. Berlin is the capital of Germany."
    ids = tokenizer.encode(text, add_special_tokens=False)
    out, cut = truncate_tokens(text, tokenizer, 5)
    assert cut is True
    assert out == tokenizer.decode(ids[:5]).rstrip() and text.startswith(out)
    assert truncate_tokens(text, tokenizer, len(ids)) == (text, False)
    assert truncate_tokens(text, tokenizer, None) == (text, False)
    # a raw tokenizers.Tokenizer works too
    raw_out, raw_cut = truncate_tokens(text, tokenizer.backend_tokenizer, 5)
    assert (raw_out, raw_cut) == (out, True)


def test_labelled_block():
    assert labelled_block(["a", "b", "c"]) == "[1] a\n\n[2] b\n\n[3] c"
