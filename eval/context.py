"""Prompts that fit the model: a default prompt budget from the model's context length, and a passage cut.

Without a token budget (none on the command line, none in the checkpoint's ``rankrl.json``) a prompt went to the
model whole: a 10 MB passage ran for 77 s, grew to 10.7 GB and died with "can't allocate". So when no
``max_prompt_tokens`` is set, evaluation fits every prompt to the model's context length minus the generation
budget (``--max-new-tokens``), and a set budget that does not fit that context is an error. Fitting counts tokens,
so a huge passage is first cut to ``CHARS_PER_TOKEN`` characters per token of the context: text past that point
could never fit in the prompt anyway (a tokenizer token spans far fewer characters), and the tokenizer is never
handed megabytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rankrl.core.errors import ConfigError

CHARS_PER_TOKEN = 16
"""An upper bound on the characters one token of a subword tokenizer covers (they are mostly 1-6): the passage cut
is ``context × CHARS_PER_TOKEN`` characters, which only touches passages that cannot fit in the prompt."""


def model_context_length(backend: Any) -> int | None:
    """The number of positions the backend's model can attend to (None when it cannot be told: an oracle)."""
    for holder in (backend, getattr(backend, "model", None)):
        value = getattr(holder, "max_model_len", None)
        if isinstance(value, int) and value > 0:
            return value
    config = getattr(getattr(backend, "model", None), "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def fit_budgets_to_context(budgets: dict[str, Any], paradigm: Any, backend: Any, max_new_tokens: int,
                           say: Callable[[str], None]) -> dict[str, Any]:
    """``budgets`` (the ``fit_messages`` keyword arguments) with a prompt budget that fits the model's context.

    * no ``max_prompt_tokens`` from the flags or the checkpoint: context − ``max_new_tokens`` (said once);
    * a budget larger than that: ``ConfigError`` naming both numbers;
    * no character cut: passages are cut at context × ``CHARS_PER_TOKEN`` characters before tokenizing.
    """
    limit = model_context_length(backend)
    if limit is None:
        return budgets
    room = limit - max_new_tokens
    if room < 1:
        raise ConfigError(f"--max-new-tokens {max_new_tokens} leaves no room for a prompt in the model's context of "
                          f"{limit} tokens")
    out = dict(budgets)
    current = out.get("max_prompt_tokens") or getattr(paradigm, "max_prompt_tokens", None)
    if current is None:
        out["max_prompt_tokens"] = room
        say(f"no prompt budget set: prompts are fitted to the model's context, {limit} - --max-new-tokens "
            f"{max_new_tokens} = {room} tokens (set --max-prompt-tokens to choose)")
    elif current > room:
        raise ConfigError(f"max_prompt_tokens {current} + --max-new-tokens {max_new_tokens} exceeds the model's "
                          f"context of {limit} tokens: lower one of them")
    if out.get("max_passage_chars") is None and getattr(paradigm, "max_passage_chars", None) is None:
        out["max_passage_chars"] = limit * CHARS_PER_TOKEN
    return out
