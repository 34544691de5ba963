"""Passage text as the model sees it: neutralised, truncated, labelled ``[1]``…``[n]``.

Why neutralise: a passage that itself contains ``[3]`` (citations, footnotes) would look like a label, and a
passage that contains ``</answer>`` could teach the model to close its answer early. Bracketed integers become
``(3)`` and the four structural tags lose their angle brackets (``<answer>`` → ``(answer)``). The query is
neutralised the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_BRACKETED_INT = re.compile(r"\[\s*(\d+)\s*\]")
_TAG = re.compile(r"<(/?)(think|answer)>", re.IGNORECASE)


def neutralise(text: str) -> str:
    """Make label-like ``[n]`` and structural tags inside passage/query text harmless."""
    text = _BRACKETED_INT.sub(r"(\1)", text)
    return _TAG.sub(r"(\1\2)", text)


def truncate_chars(text: str, max_chars: int | None) -> tuple[str, bool]:
    """Keep at most ``max_chars`` characters (cut back to the last whitespace when one is near)."""
    if max_chars is None or len(text) <= max_chars:
        return text, False
    cut = text[:max_chars]
    space = cut.rfind(" ")
    if space >= max_chars * 0.8:
        cut = cut[:space]
    return cut.rstrip(), True


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids without special tokens; works for a transformers tokenizer and a raw ``tokenizers.Tokenizer``."""
    out = tokenizer.encode(text, add_special_tokens=False)
    return list(getattr(out, "ids", out))


def decode(tokenizer: Any, ids: Sequence[int]) -> str:
    return tokenizer.decode(list(ids), skip_special_tokens=True)


def truncate_tokens(text: str, tokenizer: Any, max_tokens: int | None) -> tuple[str, bool]:
    """Keep the first ``max_tokens`` tokens of ``text`` under ``tokenizer``."""
    if max_tokens is None:
        return text, False
    ids = encode(tokenizer, text)
    if len(ids) <= max_tokens:
        return text, False
    return decode(tokenizer, ids[: max(max_tokens, 0)]).rstrip(), True


def labelled_block(passages: Sequence[str]) -> str:
    """``[1] text`` lines, one passage per paragraph."""
    return "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, start=1))
