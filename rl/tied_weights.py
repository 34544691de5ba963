"""Resuming a model whose input and output embeddings are tied (SmolLM2, Qwen2.5-0.5B/1.5B, the tiny model).

Such a checkpoint stores the shared matrix once, so loading it reports ``lm_head.weight`` missing and transformers
warns "There were missing keys in the checkpoint model loaded" although nothing is missing. Both rankrl trainers
(GRPO and SFT) mix this in: they tie the weights and stay quiet in that case; any other missing key still warns.
"""

from __future__ import annotations

from typing import Any


class QuietTiedWeightsMixin:
    """For a ``transformers.Trainer`` subclass: no false "missing keys" warning for tied weights on resume."""

    def _issue_warnings_after_load(self, load_result: Any) -> None:
        missing = list(load_result.missing_keys)
        if missing and only_tied_keys(self.model, missing):  # type: ignore[attr-defined]
            self.model.tie_weights()  # type: ignore[attr-defined]
            load_result = load_result._replace(missing_keys=[])
        super()._issue_warnings_after_load(load_result)  # type: ignore[misc]


def only_tied_keys(model: Any, keys: list[str]) -> bool:
    """True when every key names a parameter that shares its storage with another parameter (tied weights)."""
    named = list(model.named_parameters(remove_duplicate=False))
    by_name = dict(named)
    for key in keys:
        param = by_name.get(key)
        if param is None or not any(other is param for name, other in named if name != key):
            return False
    return True
