"""rankrl's GRPOTrainer overrides, checked on controlled batches (no model, no generation)."""

from __future__ import annotations

import json
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
from trl import GRPOTrainer

from rankrl.prompts import get_paradigm
from rankrl.rl.grpo import GroupedRepeatSampler, RankrlGRPOTrainer


class _Accelerator:
    process_index = 0
    is_main_process = True

    @staticmethod
    def gather(tensor):
        return tensor.reshape(-1)


def _trainer(zero_variance: str, weights=(1.0, 0.5), num_generations: int = 3, tmp_path=None) -> RankrlGRPOTrainer:
    trainer = object.__new__(RankrlGRPOTrainer)  # the overrides need only these attributes
    trainer.reward_weights = torch.tensor(weights)
    trainer.accelerator = _Accelerator()
    trainer._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    trainer.model = SimpleNamespace(training=True)
    trainer.num_generations = num_generations
    trainer.zero_variance = zero_variance
    trainer.samples_per_step = 0
    trainer.reward_func_names = ["choice", "format"]
    trainer.args = SimpleNamespace(output_dir=str(tmp_path) if tmp_path else "unused")
    trainer.state = SimpleNamespace(global_step=7)
    return trainer


# Two prompts x 3 generations. Prompt 0: totals 1.5, 1.5, 1.5 (zero variance although the parts differ);
# prompt 1: totals 1.0, 0.5, 0.0.
REWARDS = torch.tensor([[1.0, 1.0], [1.5, 0.0], [0.5, 2.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])


def _run(trainer, monkeypatch, rewards=REWARDS):
    mask = torch.ones(6, 4, dtype=torch.long)
    mask[5, 2:] = 0  # a shorter completion
    output = {"completion_mask": mask.clone(), "num_items_in_batch": mask.sum(), "advantages": torch.zeros(6)}
    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", lambda self, inputs: dict(output))
    trainer._rankrl_batch = {"rewards": rewards, "inputs": [{}] * 6, "completions": ["x"] * 6,
                             "parsed": [None] * 6}
    return trainer._generate_and_score_completions([{}] * 6)


def test_zero_variance_is_judged_on_the_weighted_total():
    zero = _trainer("keep")._group_zero_variance(REWARDS, 3)
    assert zero.tolist() == [True, True, True, False, False, False]


def test_all_unscorable_group_counts_as_zero_variance():
    rewards = torch.tensor([[float("nan")] * 2] * 3 + [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert _trainer("keep")._group_zero_variance(rewards, 3).tolist() == [True] * 3 + [False] * 3


def test_keep_logs_the_fraction_and_leaves_the_batch(monkeypatch):
    trainer = _trainer("keep")
    out = _run(trainer, monkeypatch)
    assert trainer._metrics["train"]["rankrl/zero_variance_fraction"] == [0.5]
    assert out["completion_mask"].sum().item() == 22 and out["num_items_in_batch"].item() == 22


def test_drop_removes_zero_variance_completions_from_loss_and_normaliser(monkeypatch):
    trainer = _trainer("drop")
    out = _run(trainer, monkeypatch)
    assert out["completion_mask"][:3].sum().item() == 0
    assert out["completion_mask"][3:].sum().item() == 10
    assert out["num_items_in_batch"].item() == 10
    assert trainer._metrics["train"]["rankrl/zero_variance_fraction"] == [0.5]


def test_drop_uses_this_process_slice(monkeypatch):
    trainer = _trainer("drop")
    trainer.accelerator.process_index = 1  # 12 gathered rewards, this process holds the last 6

    class Two(_Accelerator):
        process_index = 1

    trainer.accelerator = Two()
    rewards = torch.cat([REWARDS[3:], REWARDS[3:], REWARDS[:3], REWARDS[3:]])
    out = _run(trainer, monkeypatch, rewards)
    assert out["completion_mask"].sum(dim=1).tolist() == [0, 0, 0, 4, 4, 2]
    assert trainer._metrics["train"]["rankrl/zero_variance_fraction"] == [0.25]


def test_samples_are_written_with_parse_and_rewards(monkeypatch, tmp_path):
    trainer = _trainer("keep", tmp_path=tmp_path)
    trainer.samples_per_step = 2
    paradigm = get_paradigm("setwise")
    texts = ["<think>a</think><answer>[2]</answer>", "no tags"]
    parsed = [paradigm.parse(t, 3) for t in texts]
    mask = torch.ones(6, 2, dtype=torch.long)
    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions",
                        lambda self, inputs: {"completion_mask": mask, "num_items_in_batch": mask.sum()})
    trainer._rankrl_batch = {
        "rewards": REWARDS,
        "inputs": [{"qid": "q1", "docids": ["a", "b", "c"], "relevance": [0, 1, 0]}] * 6,
        "completions": [[{"role": "assistant", "content": t}] for t in texts] + ["x"] * 4,
        "parsed": parsed + [None] * 4,
    }
    trainer._generate_and_score_completions([{}] * 6)
    lines = [json.loads(x) for x in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 2
    assert lines[0] == {
        "step": 7, "qid": "q1", "docids": ["a", "b", "c"], "relevance": [0, 1, 0], "completion": texts[0],
        "ok": True, "format_ok": True, "value": 1, "error": None, "rewards": {"choice": 1.0, "format": 1.0},
        "zero_variance_group": True,
    }
    assert lines[1]["ok"] is False and lines[1]["error"]


def test_parse_statistics_are_logged_per_batch(monkeypatch):
    trainer = _trainer("keep")
    trainer.rankrl_paradigm = get_paradigm("listwise")
    trainer._parse = trainer.rankrl_paradigm.parse
    logged = {}
    trainer._log_metric = lambda name, value: logged.setdefault(name, value)
    monkeypatch.setattr(GRPOTrainer, "_calculate_rewards", lambda self, *a: torch.zeros(4, 1))
    inputs = [{"docids": ["a", "b", "c"]}] * 4
    completions = ["<think>x</think><answer>[2] > [1] > [3]</answer>",
                   "<think>x</think><answer>[2] > [1]</answer>",  # repaired: [3] appended
                   "[1] > [2] > [3]",  # no tags: no answer block
                   "<think>x</think>"]
    trainer._calculate_rewards(inputs, [None] * 4, completions, [None] * 4)
    assert logged["rankrl/parse_failure_rate"] == 0.5
    assert logged["rankrl/format_ok_rate"] == 0.5
    assert logged["rankrl/repaired_rate"] == 0.25


def test_grouped_sampler_keeps_groups_whole_and_repeats_each_prompt():
    groups = ["a"] * 4 + ["b"] * 4 + ["c"] * 4 + ["d"] * 4
    sampler = GroupedRepeatSampler(groups, data_source=list(range(16)), mini_repeat_count=2, batch_size=8,
                                   repeat_count=1, shuffle=True, seed=3)
    order = list(sampler)
    assert len(order) == 32 and order[0::2] == order[1::2]
    prompts = order[0::2]
    chunks = [prompts[i : i + 8] for i in range(0, 16, 8)]
    for chunk in chunks:  # each generation batch holds two whole groups
        assert len({groups[i] for i in chunk}) == 2
        assert all(sum(groups[j] == groups[i] for j in chunk) == 4 for i in chunk)
    assert sorted(prompts) == list(range(16)) and prompts != list(range(16))


def test_grouped_sampler_is_seeded():
    groups = [str(i // 2) for i in range(12)]
    make = lambda seed: list(GroupedRepeatSampler(groups, data_source=list(range(12)), mini_repeat_count=1,
                                                  batch_size=4, repeat_count=1, shuffle=True, seed=seed))
    assert make(0) == make(0)
    assert any(make(0) != make(s) for s in (1, 2, 3))


@pytest.mark.parametrize("mode", ["keep", "drop"])
def test_eval_batches_are_never_dropped(monkeypatch, mode):
    trainer = _trainer(mode)
    trainer.model = SimpleNamespace(training=False)
    trainer.num_generations_eval = 3
    out = _run(trainer, monkeypatch)
    assert out["completion_mask"].sum().item() == 22
    assert trainer._metrics["eval"]["rankrl/zero_variance_fraction"] == [0.5]


def test_zero_variance_survives_float32_rounding_of_weighted_totals():
    """1.0 + 0.2 * 1.0 is not exact in float32: 8 identical totals have a std of ~1e-7, still zero variance."""
    rewards = torch.tensor([[1.0, 1.0]] * 8 + [[1.0, 1.0]] * 7 + [[0.0, 1.0]])
    trainer = _trainer("keep", weights=(1.0, 0.2), num_generations=8)
    zero = trainer._group_zero_variance(rewards, 8)
    assert zero.tolist() == [True] * 8 + [False] * 8
