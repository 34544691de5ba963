"""The exact string (and token ids) a model receives for a prompt built by a template.

Templates render to messages (``Template.render``), with two conventions that carry what a list of chat messages
cannot say on its own:

* a raw-text template is one message with role ``"raw"``: its content is the whole prompt, sent without any chat
  template and tokenized as a plain string (``add_special_tokens=True``, what vLLM's ``LLM.generate`` and a
  tokenizer call do by default; Rank1 sends its prompt that way);
* a final ``assistant`` message is a prefill: the prompt is the chat template's generation prompt
  (``add_generation_prompt=True``) followed by exactly the prefill text. Why not ``continue_final_message``:
  some chat templates rewrite an assistant turn (Qwen3's drops ``<think>`` blocks), so the prefill would not be
  what the template file says.

Both backends, ``count_prompt_tokens`` and ``rankrl prompts render`` go through ``prompt_text`` /
``prompt_token_ids``, so what is measured, printed and generated from is one string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rankrl.core.errors import ConfigError
from rankrl.prompts.template import PREFILL_ROLE, RAW_ROLE


def _pairs(messages: Sequence[Any]) -> list[tuple[str, str]]:
    out = []
    for m in messages:
        if isinstance(m, Mapping):
            out.append((str(m["role"]), str(m["content"])))
        else:  # (role, content) tuples, as ``eval.backends.base.Prompt`` stores them
            role, content = m
            out.append((str(role), str(content)))
    return out


def is_raw(messages: Sequence[Any]) -> bool:
    pairs = _pairs(messages)
    return bool(pairs) and pairs[0][0] == RAW_ROLE


def split_prefill(messages: Sequence[Any]) -> tuple[list[dict[str, str]], str]:
    """(the messages before a trailing prefill, the prefill text or "")."""
    pairs = _pairs(messages)
    prefill = ""
    if len(pairs) > 1 and pairs[-1][0] == PREFILL_ROLE:
        prefill = pairs[-1][1]
        pairs = pairs[:-1]
    return [{"role": r, "content": c} for r, c in pairs], prefill


def prompt_text(messages: Sequence[Any], tokenizer: Any = None,
                chat_template_kwargs: Mapping[str, Any] | None = None) -> str:
    """The prompt string: the raw text (+ prefill), or the tokenizer's chat template with the generation prompt
    (+ prefill). A chat prompt needs a tokenizer that has a chat template."""
    chat, prefill = split_prefill(messages)
    if chat and chat[0]["role"] == RAW_ROLE:
        if len(chat) != 1:
            raise ConfigError("a raw-text prompt is one message (role 'raw'), optionally followed by a prefill")
        return chat[0]["content"] + prefill
    if tokenizer is None or not hasattr(tokenizer, "apply_chat_template"):
        raise ConfigError("this template is a chat prompt: rendering it needs a tokenizer with a chat template "
                          "(pass --tokenizer DIR)")
    if getattr(tokenizer, "chat_template", None) is None:
        raise ConfigError(f"{getattr(tokenizer, 'name_or_path', 'the tokenizer')}: the tokenizer has no chat "
                          "template, so a chat prompt cannot be rendered; use a raw-text template or another "
                          "tokenizer")
    try:
        text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False,
                                             **dict(chat_template_kwargs or {}))
    except ValueError as err:  # transformers: "Cannot use chat template functions ... no template"
        raise ConfigError(f"the tokenizer cannot render chat prompts: {err}") from err
    return text + prefill


def adds_special_tokens(messages: Sequence[Any]) -> bool:
    """Whether the prompt string is tokenized with the tokenizer's special tokens (BOS): raw text yes (as a plain
    string prompt is), a rendered chat template no (it already holds them)."""
    return is_raw(messages)


def prompt_token_ids(tokenizer: Any, messages: Sequence[Any],
                     chat_template_kwargs: Mapping[str, Any] | None = None) -> list[int]:
    """The token ids of ``prompt_text`` as the backends tokenize it."""
    if tokenizer is None:
        raise ConfigError("counting prompt tokens needs a tokenizer")
    if not is_raw(messages) and not hasattr(tokenizer, "apply_chat_template"):
        raise ConfigError(
            f"{type(tokenizer).__name__} has no apply_chat_template; pass a transformers tokenizer with a chat "
            "template"
        )
    text = prompt_text(messages, tokenizer, chat_template_kwargs)
    out = tokenizer(text, add_special_tokens=adds_special_tokens(messages))
    ids = out["input_ids"] if isinstance(out, Mapping) or hasattr(out, "keys") else out
    return list(getattr(ids, "ids", ids))
