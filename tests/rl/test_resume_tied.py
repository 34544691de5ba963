"""Resuming a model with tied embeddings: the "missing lm_head.weight" warning is recognised as harmless."""

from __future__ import annotations

from pathlib import Path

from rankrl.rl.tied_weights import only_tied_keys


def test_tied_lm_head_is_not_a_missing_key(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    from rankrl.rl.tiny_model import build_tiny_model

    build_tiny_model(tmp_path / "m", warmup_steps=0, log=lambda *_: None)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert model.lm_head.weight is model.get_input_embeddings().weight  # the tiny model ties them
    assert only_tied_keys(model, ["lm_head.weight"])
    assert not only_tied_keys(model, ["lm_head.weight", "model.norm.weight"])  # a really missing key
    assert not only_tied_keys(model, ["no.such.key"])


def test_both_trainers_drop_only_the_tied_key_from_the_resume_warning(tmp_path: Path) -> None:
    """GRPO and SFT trainers mix in QuietTiedWeightsMixin: a tied lm_head is not reported, a real gap still is."""
    from collections import namedtuple

    from transformers import AutoModelForCausalLM

    from rankrl.rl.grpo import RankrlGRPOTrainer
    from rankrl.rl.tied_weights import QuietTiedWeightsMixin
    from rankrl.rl.tiny_model import build_tiny_model

    build_tiny_model(tmp_path / "m", warmup_steps=0, log=lambda *_: None)
    LoadResult = namedtuple("LoadResult", "missing_keys unexpected_keys")
    reported: list[list[str]] = []

    class Base:
        def _issue_warnings_after_load(self, load_result):
            reported.append(list(load_result.missing_keys))

    class Trainer(QuietTiedWeightsMixin, Base):
        model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")

    Trainer()._issue_warnings_after_load(LoadResult(["lm_head.weight"], []))
    Trainer()._issue_warnings_after_load(LoadResult(["lm_head.weight", "model.norm.weight"], []))
    assert reported == [[], ["lm_head.weight", "model.norm.weight"]]
    assert issubclass(RankrlGRPOTrainer, QuietTiedWeightsMixin)
    import importlib
    import inspect

    sft_module = importlib.import_module("rankrl.rl.sft")  # the module (rankrl.rl.sft is the API function)

    assert "QuietTiedWeightsMixin, SFTTrainer" in inspect.getsource(sft_module.make_sft_trainer)
