"""TRL's ``GRPOTrainer`` with rankrl's additions, each a small override of one TRL 1.16 hook.

- **Zero-variance groups** (``_generate_and_score_completions``): a prompt whose completions all got the same
  total reward has advantage 0 everywhere, so GRPO learns nothing from it, yet under the token-normalised losses
  (``dapo`` — TRL 1.16's default —, ``bnpo``, ``dr_grpo``) its tokens still count in the normaliser and dilute the
  step, and with ``beta > 0`` they still pull towards the reference. rankrl logs the fraction of such prompts
  every step (``rankrl/zero_variance_fraction``) and, with ``zero_variance: drop``, removes their completions
  from the loss exactly as TRL's own ``mask_truncated_completions`` does (completion mask zeroed, normaliser
  recounted).
- **Parse statistics** (``_calculate_rewards``): per step, the share of completions that parse
  (``rankrl/parse_failure_rate``), that are well formed (``rankrl/format_ok_rate``) and that needed repair.
- **Sample completions**: the first ``samples_per_step`` completions of each generation batch, with their parse
  and rewards, appended to ``<output_dir>/samples.jsonl`` by the main process.
- **Terminal and curves** (``rl/logging_callback.py``, ``rl/curves.py``): one compact line per logging step
  instead of the raw metrics dict; ``OUTPUT_DIR/curves.png`` at every save and at the end; metrics that are all
  NaN in a logging step (a reward returning None throughout) are dropped rather than logged as ``None``;
  ``log_completions`` prints at most ``num_completions_to_print`` (default here 3) samples per logging step.
- **Pointwise groups** (``_get_train_sampler``): a listwise-derived pointwise reward compares the passages of a
  query, so the rows of a group must reach the reward together; the sampler shuffles whole groups.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import torch
from trl import GRPOTrainer
from trl.trainer.utils import RepeatSampler, nanstd

from rankrl.rewards.columns import completion_text
from rankrl.rl.curves import make_callback as make_curves_callback
from rankrl.rl.logging_callback import drop_empty_metrics, install_compact_logging
from rankrl.rl.tied_weights import QuietTiedWeightsMixin, only_tied_keys  # noqa: F401 (re-exported)

COMPLETIONS_PRINTED = 3
"""Samples ``log_completions`` prints per logging step unless ``num_completions_to_print`` says otherwise."""


class GroupedRepeatSampler(RepeatSampler):
    """``RepeatSampler`` that permutes whole groups of consecutive rows (same ``group`` id), not single rows."""

    def __init__(self, groups: list[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.blocks: list[list[int]] = []
        for i, g in enumerate(groups):
            if self.blocks and groups[i - 1] == g:
                self.blocks[-1].append(i)
            else:
                self.blocks.append([i])

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(len(self.blocks), generator=self.generator).tolist()
        else:
            order = list(range(len(self.blocks)))
        indexes = [i for b in order for i in self.blocks[b]]
        chunks = [indexes[i : i + self.batch_size] for i in range(0, len(indexes), self.batch_size)]
        for chunk in chunks:
            if len(chunk) != self.batch_size:
                continue
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index


class RankrlGRPOTrainer(QuietTiedWeightsMixin, GRPOTrainer):
    """GRPOTrainer + zero-variance policy, parse metrics, sample log, grouped pointwise sampling."""

    def __init__(
        self,
        *args: Any,
        paradigm: Any,
        zero_variance: str = "keep",
        samples_per_step: int = 0,
        group_rows: bool = False,
        card_tags: list[str] | None = None,
        card_dataset: str | None = None,
        **kwargs: Any,
    ):
        self.rankrl_paradigm = paradigm
        self.zero_variance = zero_variance
        self.samples_per_step = samples_per_step
        self.group_rows = group_rows
        self._card_tags = list(card_tags or [])
        self._card_dataset = card_dataset
        self._rankrl_batch: dict[str, Any] = {}
        config = kwargs.get("args")
        if config is not None and config.log_completions and config.num_completions_to_print is None:
            config.num_completions_to_print = COMPLETIONS_PRINTED  # TRL prints the whole batch otherwise
        super().__init__(*args, **kwargs)
        install_compact_logging(self)
        self.add_callback(make_curves_callback(title=os.path.basename(os.path.normpath(self.args.output_dir))))
        # The rewards built together share one parse cache (rewards.build_rewards); reading the parse statistics
        # through it costs no second parse of each completion.
        shared = next((f.parser for f in self.reward_funcs if getattr(f, "parser", None) is not None), None)
        self._parse = shared.parse if shared is not None and shared.paradigm is paradigm else paradigm.parse

    # -- sampling --------------------------------------------------------------------------------------------
    def _get_train_sampler(self, dataset: Any = None):
        dataset = self.train_dataset if dataset is None else dataset
        if not self.group_rows or "group" not in getattr(dataset, "column_names", []):
            return super()._get_train_sampler(dataset)
        return GroupedRepeatSampler(
            list(dataset["group"]),
            data_source=dataset,
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            shuffle=self.shuffle_dataset,
            seed=self.args.seed,
        )

    # -- rewards and parse statistics -----------------------------------------------------------------------
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        parsed = []
        for example, completion in zip(inputs, completions):
            num = len(example.get("docids") or []) or 1
            parsed.append(self._parse(completion_text(completion), num))
        n = max(1, len(parsed))
        self._log_metric("rankrl/parse_failure_rate", sum(not p.ok for p in parsed) / n)
        self._log_metric("rankrl/format_ok_rate", sum(bool(p.format_ok) for p in parsed) / n)
        self._log_metric("rankrl/repaired_rate", sum(bool(p.repaired) for p in parsed) / n)
        self._rankrl_batch = {"inputs": inputs, "completions": completions, "parsed": parsed,
                              "rewards": rewards_per_func}
        return rewards_per_func

    def _group_zero_variance(self, rewards_per_func: torch.Tensor, num_generations: int) -> torch.Tensor:
        """Per completion (all processes): True where its prompt's completions share one total reward."""
        weights = self.reward_weights.to(rewards_per_func.device).unsqueeze(0)
        unscorable = torch.isnan(rewards_per_func).all(dim=1)
        total = (rewards_per_func * weights).nansum(dim=1)
        total[unscorable] = torch.nan
        grouped = total.view(-1, num_generations)
        std = nanstd(grouped, dim=1)
        # Not torch.isclose(std, 0) (atol 1e-8): weighted totals such as 1.0 + 0.2 * 1.0 are not exact in
        # float32, and the std of 8 identical totals comes out ~1e-7 from summation rounding. A relative
        # tolerance far below any real reward difference counts such groups as the zero-variance groups they are.
        scale = 1.0 + grouped.abs().nan_to_num(0.0).amax(dim=1)
        same = (std <= 1e-6 * scale) | torch.isnan(std)
        return same.repeat_interleave(num_generations)

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        batch, self._rankrl_batch = self._rankrl_batch, {}
        rewards = batch.get("rewards")
        if rewards is None:
            return output
        num_generations = self.num_generations if mode == "train" else self.num_generations_eval
        zero = self._group_zero_variance(rewards, num_generations)
        self._metrics[mode]["rankrl/zero_variance_fraction"].append(zero.float().mean().item())
        local = slice(self.accelerator.process_index * len(inputs), (self.accelerator.process_index + 1) * len(inputs))
        if self.zero_variance == "drop" and mode == "train":
            keep = (~zero[local]).to(output["completion_mask"].dtype).unsqueeze(1)
            output["completion_mask"] = output["completion_mask"] * keep
            loss_mask = output["completion_mask"]
            if output.get("tool_mask") is not None:
                loss_mask = loss_mask * output["tool_mask"]
            output["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
        if self.samples_per_step and mode == "train":
            self._write_samples(batch, rewards[local], zero[local])
        return output

    def _write_samples(self, batch: dict[str, Any], rewards: torch.Tensor, zero: torch.Tensor) -> None:
        if not self.accelerator.is_main_process:
            return
        path = os.path.join(self.args.output_dir, "samples.jsonl")
        os.makedirs(self.args.output_dir, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            for i in range(min(self.samples_per_step, len(batch["completions"]))):
                example, parsed = batch["inputs"][i], batch["parsed"][i]
                record = {
                    "step": self.state.global_step,
                    "qid": example.get("qid"),
                    "docids": example.get("docids"),
                    "relevance": example.get("relevance"),
                    "completion": completion_text(batch["completions"][i]),
                    "ok": parsed.ok,
                    "format_ok": parsed.format_ok,
                    "value": parsed.value,
                    "error": parsed.error,
                    "rewards": {n: _finite(v) for n, v in zip(self.reward_func_names, rewards[i].tolist())},
                    "zero_variance_group": bool(zero[i]),
                }
                handle.write(json.dumps(record, default=str) + "\n")

    # -- logging --------------------------------------------------------------------------------------------
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        drop_empty_metrics(self._metrics["train" if self.model.training else "eval"])
        super().log({k: v for k, v in logs.items() if v is not None}, start_time)

    # -- model card -----------------------------------------------------------------------------------------
    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        tags = [tags] if isinstance(tags, str) else list(tags or [])
        super().create_model_card(
            model_name=model_name, dataset_name=dataset_name or self._card_dataset, tags=tags + self._card_tags
        )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value  # NaN (the reward returned None) -> null
