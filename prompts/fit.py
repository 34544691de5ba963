"""Fit a prompt into a token budget by shrinking passages, never the query or the template.

TRL 1.16's GRPO has no ``max_prompt_length``, so an over-long prompt would reach the model whole; training rows
and evaluation therefore build prompts through ``fit_messages``. Order of operations:
1. passages are written as the template says (title, whitespace), cut to ``max_passage_chars`` characters,
   ``max_passage_words`` words and ``max_passage_tokens`` tokens (with no tokenizer a token budget is approximated
   as ``CHARS_PER_TOKEN`` characters per token), then neutralised (``prompts.passages``); the query is cut to
   ``max_query_tokens`` (Rank-R1 cuts queries to 128 tokens);
2. with a tokenizer and ``max_prompt_tokens``, the prompt is rendered exactly as generation sees it
   (``prompts.render.prompt_text``) and, while it is too long, every passage is capped
   at a common token length L, the largest L that fits (long passages lose most, short ones nothing).
A prompt that cannot fit even with empty passages is a ``RankrlError`` naming the sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rankrl.core.errors import ConfigError, RankrlError
from rankrl.prompts.passages import (
    Budgets,
    decode,
    encode,
    prepare_passage,
    prepare_query,
)
from rankrl.prompts.render import prompt_token_ids


@dataclass(frozen=True)
class FitResult:
    messages: list[dict[str, str]]
    truncated: bool
    prompt_tokens: int | None


def count_prompt_tokens(tokenizer: Any, messages: list[dict[str, str]]) -> int:
    """Tokens of the prompt as the backends send it (chat template with the generation prompt, then any prefill;
    or the raw text of a raw template)."""
    return len(prompt_token_ids(tokenizer, messages))


def _cap(lengths: Sequence[int], budget: int) -> int:
    """Largest L with sum(min(l, L)) <= budget (water-filling)."""
    if sum(lengths) <= budget:
        return max(lengths, default=0)
    remaining, count = budget, len(lengths)
    for length in sorted(lengths):
        if length * count > remaining:
            return max(remaining // count, 0)
        remaining -= length
        count -= 1
    return max(lengths, default=0)


def fit_messages(
    paradigm: Any,
    query: str,
    passages: Sequence[Any],
    tokenizer: Any = None,
    max_prompt_tokens: int | None = None,
    max_passage_tokens: int | None = None,
    max_passage_chars: int | None = None,
    max_passage_words: int | None = None,
    max_query_tokens: int | None = None,
) -> FitResult:
    """Messages for ``query``/``passages`` that fit the budgets; limits left as None fall back to the paradigm's
    (and, for words and query tokens, to its template's published defaults)."""
    defaults = paradigm.template.defaults
    max_prompt_tokens = max_prompt_tokens if max_prompt_tokens is not None else paradigm.max_prompt_tokens
    max_passage_tokens = max_passage_tokens if max_passage_tokens is not None else paradigm.max_passage_tokens
    max_passage_chars = max_passage_chars if max_passage_chars is not None else paradigm.max_passage_chars
    max_passage_words = max_passage_words if max_passage_words is not None else defaults.max_passage_words
    max_query_tokens = max_query_tokens if max_query_tokens is not None else defaults.max_query_tokens
    for name, value in (
        ("max_prompt_tokens", max_prompt_tokens),
        ("max_passage_tokens", max_passage_tokens),
        ("max_passage_chars", max_passage_chars),
        ("max_passage_words", max_passage_words),
        ("max_query_tokens", max_query_tokens),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if max_prompt_tokens is not None and tokenizer is None:
        raise ConfigError(
            "max_prompt_tokens needs a tokenizer (the prompt is measured with its chat template)"
        )
    if not isinstance(query, str):
        raise RankrlError(f"query must be a string, got {type(query).__name__}")
    paradigm.check_passages(passages)
    fmt = paradigm.template.passages
    budgets = Budgets(max_passage_chars=max_passage_chars, max_passage_words=max_passage_words,
                      max_passage_tokens=max_passage_tokens, max_query_tokens=max_query_tokens)
    query = prepare_query(query, paradigm.template.query, budgets, tokenizer, cut=fmt.cut)
    texts: list[str] = []
    truncated = False
    for p in passages:
        text, cut = prepare_passage(p, fmt, budgets, tokenizer)
        truncated |= cut
        texts.append(text)
    messages = paradigm.render_prepared(query, texts)
    if tokenizer is None:
        return FitResult(messages, truncated, None)
    if max_prompt_tokens is None:
        tokens = (
            count_prompt_tokens(tokenizer, messages) if hasattr(tokenizer, "apply_chat_template") else None
        )
        return FitResult(messages, truncated, tokens)
    tokens = count_prompt_tokens(tokenizer, messages)
    if tokens <= max_prompt_tokens:
        return FitResult(messages, truncated, tokens)

    floor = count_prompt_tokens(tokenizer, paradigm.render_prepared(query, [""] * len(texts)))
    if floor > max_prompt_tokens:
        raise RankrlError(
            f"the prompt needs {floor} tokens before any passage text (query + template), more than "
            f"max_prompt_tokens={max_prompt_tokens}; raise max_prompt_tokens or shorten the query"
        )
    ids = [encode(tokenizer, t) for t in texts]
    cap = _cap([len(i) for i in ids], max_prompt_tokens - floor)
    while True:
        shrunk = [t if len(i) <= cap else decode(tokenizer, i[:cap]).rstrip() for t, i in zip(texts, ids)]
        messages = paradigm.render_prepared(query, shrunk)
        tokens = count_prompt_tokens(tokenizer, messages)
        if tokens <= max_prompt_tokens or cap == 0:
            break
        # Re-tokenising a cut can cost a few extra tokens at the seams: lower the cap and measure again.
        cap = max(cap - max(1, math.ceil((tokens - max_prompt_tokens) / len(ids))), 0)
    return FitResult(messages, True, tokens)
