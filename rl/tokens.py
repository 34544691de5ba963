"""Start-up check: the reasoning/answer tags must survive how TRL decodes completions.

TRL decodes generated ids with ``skip_special_tokens=True``. A tokenizer that registers ``<think>`` or
``<answer>`` as *special* tokens silently deletes them from every completion, so every parse fails and every
reward is the format penalty. Training checks the tokenizer once, before any rollout, and stops with a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rankrl.core.errors import RankrlError

ANSWER_TAGS: tuple[str, ...] = ("<think>", "</think>", "<answer>", "</answer>")


def vanishing_tags(tokenizer: Any, tags: Sequence[str] = ANSWER_TAGS) -> list[str]:
    """Tags that do not come back from ``encode`` → ``decode(skip_special_tokens=True)``."""
    sample = f"{tags[0]} reason {tags[1]} {tags[2]} [1] {tags[3]}" if len(tags) == 4 else " x ".join(tags)
    ids = tokenizer(sample, add_special_tokens=False)["input_ids"]
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    return [tag for tag in tags if tag not in decoded]


def check_answer_tags(tokenizer: Any, tags: Sequence[str] = ANSWER_TAGS, *, source: str = "tokenizer") -> None:
    """Raise ``RankrlError`` when decoding as TRL does would strip one of ``tags`` from completions."""
    lost = vanishing_tags(tokenizer, tags)
    if lost:
        special = set(getattr(tokenizer, "all_special_tokens", []) or [])
        why = [f"{t} (registered as a special token)" if t in special else t for t in lost]
        raise RankrlError(
            f"{source}: the tags {', '.join(why)} disappear when completions are decoded with "
            "skip_special_tokens=True (as TRL does), so no completion could ever parse. Use a tokenizer where "
            "these tags are ordinary text or ordinary (non-special) added tokens."
        )
