"""Resuming a model with tied embeddings: the "missing lm_head.weight" warning is recognised as harmless."""

from __future__ import annotations

from pathlib import Path

from rankrl.rl.grpo import only_tied_keys


def test_tied_lm_head_is_not_a_missing_key(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from rankrl.rl.tiny_model import build_tiny_model

    build_tiny_model(tmp_path / "m", warmup_steps=0, log=lambda *_: None)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert model.lm_head.weight is model.get_input_embeddings().weight  # the tiny model ties them
    assert only_tied_keys(model, ["lm_head.weight"])
    assert not only_tied_keys(model, ["lm_head.weight", "model.norm.weight"])  # a really missing key
    assert not only_tied_keys(model, ["no.such.key"])
