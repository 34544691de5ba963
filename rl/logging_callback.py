"""One compact terminal line per logging step instead of Hugging Face's raw dict of ~35 stringified metrics.

``rankrl train`` prints, e.g.::

    step 3/10 | reward 0.512 ±0.210 (listwise_ndcg 0.610, format 0.900) | zero-var 25% | len 212 | kl 0.0012 | lr 1.0e-06 | 4.1 s/step

and ``rankrl sft`` ``step 3/10 | loss 1.234 | acc 0.612 | lr 2.0e-05 | 0.8 s/step``. Every value still goes to the
loggers in ``report_to`` and to ``trainer_state.json`` unchanged: only the terminal rendering changes.
``CompactProgressCallback`` replaces transformers' ``ProgressCallback`` (keeps its bar, writes the line above it);
``CompactPrinterCallback`` replaces ``PrinterCallback`` (``disable_tqdm``).
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from transformers.trainer_callback import ProgressCallback, TrainerCallback

_REWARD_KEY = re.compile(r"^rewards/(?P<name>.+)/mean$")
ZERO_VARIANCE_KEYS = ("rankrl/zero_variance_fraction", "frac_reward_zero_std")


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def format_log_line(logs: Mapping[str, Any], step: int, max_steps: int | None,
                    seconds_per_step: float | None) -> str | None:
    """The compact line for one ``on_log`` call; None for logs that carry nothing to show."""
    if "train_runtime" in logs:  # the summary Trainer logs once at the end
        runtime = _num(logs.get("train_runtime")) or 0.0
        loss = _num(logs.get("train_loss"))
        return (f"done: {step} steps in {runtime:.1f} s"
                + (f" ({runtime / step:.2f} s/step)" if step else "")
                + (f", mean loss {loss:.4g}" if loss is not None else ""))
    parts = [f"step {step}/{max_steps}" if max_steps and max_steps > 0 else f"step {step}"]
    if any(k.startswith("eval_") for k in logs):
        shown = [(k[5:], _num(v)) for k, v in logs.items() if k.startswith("eval_")]
        parts.append("eval " + ", ".join(f"{k} {v:.4g}" for k, v in shown if v is not None and
                                          not k.endswith(("runtime", "per_second"))))
        return " | ".join(parts)
    reward = _num(logs.get("reward"))
    if reward is not None:
        text = f"reward {reward:.3f}"
        std = _num(logs.get("reward_std"))
        if std is not None:
            text += f" ±{std:.3f}"
        funcs = [(m.group("name"), _num(v)) for k, v in logs.items() if (m := _REWARD_KEY.match(k))]
        funcs = [(n, v) for n, v in funcs if v is not None]
        if funcs:
            text += " (" + ", ".join(f"{n} {v:.3f}" for n, v in funcs) + ")"
        parts.append(text)
    zero = next((_num(logs[k]) for k in ZERO_VARIANCE_KEYS if _num(logs.get(k)) is not None), None)
    if zero is not None:
        parts.append(f"zero-var {100 * zero:.0f}%")
    length = _num(logs.get("completions/mean_length"))
    if length is not None:
        parts.append(f"len {length:.0f}")
    if reward is None:  # supervised fine-tuning, or a trainer without rewards
        loss = _num(logs.get("loss"))
        if loss is not None:
            parts.append(f"loss {loss:.4g}")
        accuracy = _num(logs.get("mean_token_accuracy"))
        if accuracy is not None:
            parts.append(f"acc {accuracy:.3f}")
    kl = _num(logs.get("kl"))
    if kl is not None:
        parts.append(f"kl {kl:.2g}")
    lr = _num(logs.get("learning_rate"))
    if lr is not None:
        parts.append(f"lr {lr:.1e}")
    if seconds_per_step is not None:
        parts.append(f"{seconds_per_step:.1f} s/step")
    return " | ".join(parts) if len(parts) > 1 else None


class _Pace:
    """Seconds per optimizer step between two logging calls, timed from the first step that starts (not from
    train begin, which on resume includes loading the checkpoint and skipping the data already seen)."""

    def __init__(self) -> None:
        self.time: float | None = None
        self.step = 0

    def first_step(self, step: int) -> None:
        if self.time is None:
            self.start(step)

    def start(self, step: int) -> None:
        self.time, self.step = time.monotonic(), step

    def tick(self, step: int) -> float | None:
        if self.time is None:  # no step has started yet
            return None
        now = time.monotonic()
        pace = (now - self.time) / (step - self.step) if self.time is not None and step > self.step else None
        if step > self.step:
            self.time, self.step = now, step
        return pace


class CompactProgressCallback(ProgressCallback):
    """transformers' progress bar, with the compact line written above it instead of the raw dict."""

    def __init__(self) -> None:
        super().__init__()
        self.pace = _Pace()

    def on_train_begin(self, args, state, control, **kwargs):
        super().on_train_begin(args, state, control, **kwargs)
        self.pace = _Pace()

    def on_step_begin(self, args, state, control, **kwargs):
        self.pace.first_step(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or logs is None:
            return
        line = format_log_line(logs, state.global_step, state.max_steps, self.pace.tick(state.global_step))
        if line is None:
            return
        if self.training_bar is not None:
            self.training_bar.write(line)
        else:
            print(line, file=sys.stderr, flush=True)


class CompactPrinterCallback(TrainerCallback):
    """The compact line, printed (``disable_tqdm: true``: no bar)."""

    def __init__(self) -> None:
        self.pace = _Pace()

    def on_train_begin(self, args, state, control, **kwargs):
        self.pace = _Pace()

    def on_step_begin(self, args, state, control, **kwargs):
        self.pace.first_step(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_local_process_zero or logs is None:
            return
        line = format_log_line(logs, state.global_step, state.max_steps, self.pace.tick(state.global_step))
        if line is not None:
            print(line, flush=True)


def install_compact_logging(trainer: Any) -> None:
    """Swap the trainer's dict-printing callback for the compact one (whichever of the two it has)."""
    from transformers.trainer_callback import PrinterCallback

    if trainer.pop_callback(ProgressCallback) is not None:
        trainer.add_callback(CompactProgressCallback())
    elif trainer.pop_callback(PrinterCallback) is not None:
        trainer.add_callback(CompactPrinterCallback())


def drop_empty_metrics(metrics: dict[str, list[float]]) -> None:
    """Remove metrics whose values this logging step are all NaN (a reward that returned None for every sample):
    TRL would log them as ``None``, which TensorBoard warns about on every step and W&B charts as gaps."""
    for key in [k for k, values in metrics.items() if not values or all(math.isnan(v) for v in values)]:
        del metrics[key]
