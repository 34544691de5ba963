"""Training rows and the prompt budget: built rows are never dropped silently for being too long.

Rows from ``rankrl data build`` hold rendered prompts. When training sets ``max_prompt_tokens`` and some prompts are
longer (rows built without a token budget, or with a larger one), they can no longer be cut: training used to drop
them without a word (28 of 42 rows in one probe) while the checkpoint recorded no budget at all. Now that is an
error saying how many rows, how long the longest is, and how to rebuild.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rankrl.core.errors import ConfigError


def check_rows_fit(dataset: Any, dataset_dir: str, max_prompt_tokens: int, built_meta: dict[str, Any] | None,
                   count: Callable[[Any], int]) -> None:
    """``ConfigError`` when a row's prompt has more than ``max_prompt_tokens`` tokens (``count`` counts them)."""
    lengths = [count(prompt) for prompt in dataset["prompt"]]
    over = [n for n in lengths if n > max_prompt_tokens]
    if not over:
        return
    built = ((built_meta or {}).get("truncation") or {}).get("max_prompt_tokens")
    how = f"with max_prompt_tokens {built}" if built else "without a token budget"
    raise ConfigError(
        f"{len(over)} of {len(lengths)} rows in dataset_dir {dataset_dir} have prompts longer than max_prompt_tokens "
        f"({max_prompt_tokens}; the longest has {max(over)} tokens): they were built {how}, and a rendered prompt can "
        f"no longer be cut. Rebuild the rows with `rankrl data build ... --tokenizer MODEL --max-prompt-tokens "
        f"{max_prompt_tokens}`, or set max_prompt_tokens to at least {max(over)}"
    )
