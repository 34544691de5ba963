"""The compact per-step line, and metrics that would be logged as None."""

from __future__ import annotations

import math

from rankrl.rl.logging_callback import drop_empty_metrics, format_log_line

GRPO_LOGS = {
    "loss": 0.0123, "grad_norm": 0.5, "learning_rate": 1e-6, "num_tokens": 1234.0,
    "completions/mean_length": 211.6, "completions/min_length": 20.0, "completions/max_length": 512.0,
    "rewards/listwise_ndcg/mean": 0.61, "rewards/listwise_ndcg/std": 0.2, "rewards/format/mean": 0.9,
    "rewards/format/std": 0.1, "reward": 0.512, "reward_std": 0.21, "frac_reward_zero_std": 0.5,
    "rankrl/zero_variance_fraction": 0.25, "kl": 0.0012, "entropy": 1.2, "clip_ratio/region_mean": 0.0,
    "rankrl/parse_failure_rate": 0.1, "epoch": 0.1,
}


def test_grpo_line_has_every_field_in_one_line() -> None:
    line = format_log_line(GRPO_LOGS, 3, 10, 4.07)
    assert line == ("step 3/10 | reward 0.512 ±0.210 (listwise_ndcg 0.610, format 0.900) | zero-var 25% | len 212 | "
                    "kl 0.0012 | lr 1.0e-06 | 4.1 s/step")
    assert "\n" not in line


def test_zero_variance_falls_back_to_trl_metric_and_missing_values_are_left_out() -> None:
    logs = {"reward": 1.0, "frac_reward_zero_std": 0.5, "kl": None, "rewards/format/mean": float("nan")}
    assert format_log_line(logs, 1, None, None) == "step 1 | reward 1.000 | zero-var 50%"


def test_sft_line_and_final_summary() -> None:
    assert format_log_line({"loss": 1.2345, "mean_token_accuracy": 0.6123, "learning_rate": 2e-5}, 4, 8, 0.8) == \
        "step 4/8 | loss 1.234 | acc 0.612 | lr 2.0e-05 | 0.8 s/step"
    assert format_log_line({"train_runtime": 40.0, "train_loss": 0.5}, 10, 10, None) == \
        "done: 10 steps in 40.0 s (4.00 s/step), mean loss 0.5"
    assert format_log_line({"epoch": 1.0}, 2, 10, None) is None  # nothing worth a line


def test_empty_metrics_are_dropped_not_logged_as_none() -> None:
    metrics = {"a": [1.0, math.nan], "b": [math.nan, math.nan], "c": []}
    drop_empty_metrics(metrics)
    assert list(metrics) == ["a"]


def test_pace_counts_from_the_first_step_not_from_train_begin() -> None:
    import time

    from rankrl.rl.logging_callback import _Pace

    pace = _Pace()
    assert pace.tick(5) is None  # no step started yet
    pace.first_step(5)  # a resumed run's first step is 5
    pace.first_step(6)  # later calls do not restart the clock
    time.sleep(0.05)
    value = pace.tick(7)
    assert value is not None and 0.02 < value < 1.0  # 2 steps in ~0.05 s
