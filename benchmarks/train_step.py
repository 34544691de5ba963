"""GRPO step time of ``rankrl train`` against bare TRL with the same settings, in one run (target: within 10%).

    .venv/bin/python benchmarks/train_step.py [--model DIR] [--steps 8] [--repeats 3] [--paradigm setwise]

Both sides train the tiny model (built here with the default warm-up unless ``--model`` is given) on the same
rows, with the same ``GRPOConfig`` (from ``rl/recipes/tiny.yaml``) and the same reward functions:

- **rankrl**: the ``rankrl train`` path (``rl.train``: parse + validate, tokenizer check, rows, rewards,
  ``RankrlGRPOTrainer`` with its parse statistics, zero-variance accounting, sample log and metadata callback);
- **bare TRL**: ``trl.GRPOTrainer`` given the same model path, dataset, rewards and config.

Same seeds and no randomness of rankrl's own, so both sample the same completions (the mean completion length is
printed to show it). Each side's steps are timed with a callback; the first step (warm-up) is dropped and the
median over the remaining steps of every repeat is reported. Sides alternate (rankrl, TRL, rankrl, ...) so load
changes on a shared machine hit both. Prints a Markdown table and the ratio rankrl / TRL.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from transformers import TrainerCallback

RECIPE = Path(__file__).resolve().parents[1] / "rl" / "recipes" / "tiny.yaml"
TARGET = 1.10


class StepTimer(TrainerCallback):
    """Wall time of every optimizer step (generation, rewards, loss, update) and the mean completion length."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.lengths: list[float] = []
        self._start = 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter() - self._start)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "completions/mean_length" in logs:
            self.lengths.append(float(logs["completions/mean_length"]))


def _flags(model: Path, out: Path, steps: int, paradigm: str) -> list[str]:
    return ["--config", str(RECIPE), "--model_name_or_path", str(model), "--output_dir", str(out),
            "--max_steps", str(steps), "--save_strategy", "no", "--paradigm", paradigm, "--template", paradigm,
            "--rewards", "default", "--synthetic_queries", str(4 * steps),
            # smoke sizes (tiny.yaml itself is sized for the quickstart): 2 prompts x 4 generations per step
            "--num_generations", "4", "--per_device_train_batch_size", "8", "--max_completion_length", "48",
            "--logging_steps", "1", "--disable_tqdm", "true"]


def run_rankrl(model: Path, out: Path, steps: int, paradigm: str) -> StepTimer:
    """The ``rankrl train`` pipeline, step by step as ``rl.train.main`` runs it, plus a timer."""
    import importlib

    train = importlib.import_module("rankrl.rl.train")  # the module (rankrl.rl.train is the API function)
    from rankrl.rl.checkpoint import training_metadata
    from rankrl.rl.config import check_context, paradigm_from_script, parse_args, validate
    from rankrl.rl.rows_source import build_train_rows

    script, args, model_args, _ = parse_args(_flags(model, out, steps, paradigm))
    validate(script, args, model_args)
    tokenizer = train.load_tokenizer(model_args, args)
    check_context(script, args, train._model_config(model_args, args))
    rows = build_train_rows(script, paradigm_from_script(script), tokenizer, show_progress=False)
    funcs, specs = train.build_reward_funcs(script, rows)
    args.reward_weights = [s["weight"] for s in specs]
    train.check_group_layout(script, args, rows, specs)
    meta = training_metadata(rows.paradigm, script, args, model_args, specs, train._rows_info(rows))
    trainer = train.make_trainer(script, args, model_args, tokenizer, rows, funcs, meta)
    timer = StepTimer()
    trainer.add_callback(timer)
    trainer.train()
    return timer


def run_trl(model: Path, out: Path, steps: int, paradigm: str) -> StepTimer:
    """Bare TRL: GRPOTrainer with the same config, rows and reward functions, nothing of rankrl's trainer."""
    import importlib

    from trl import GRPOTrainer


    train = importlib.import_module("rankrl.rl.train")  # the module (rankrl.rl.train is the API function)
    from rankrl.rl.config import paradigm_from_script, parse_args
    from rankrl.rl.rows_source import build_train_rows

    script, args, model_args, _ = parse_args(_flags(model, out, steps, paradigm))
    tokenizer = train.load_tokenizer(model_args, args)
    rows = build_train_rows(script, paradigm_from_script(script), tokenizer, show_progress=False)
    funcs, specs = train.build_reward_funcs(script, rows)
    args.reward_weights = [s["weight"] for s in specs]
    args.model_init_kwargs = {"dtype": model_args.dtype}
    timer = StepTimer()
    trainer = GRPOTrainer(model=str(model), reward_funcs=funcs, args=args, train_dataset=rows.dataset,
                          processing_class=tokenizer, callbacks=[timer])
    trainer.train()
    return timer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="tiny model folder (default: build one with warm-up)")
    parser.add_argument("--steps", type=int, default=8, help="GRPO steps per run (the first is not counted)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side, alternating")
    parser.add_argument("--paradigm", default="setwise")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier timings)")
    a = parser.parse_args(argv)
    import torch
    import transformers

    torch.set_num_threads(a.threads)
    transformers.logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp:
        model = a.model
        if model is None:
            from rankrl.rl.tiny_model import build_tiny_model

            model = Path(tmp) / "tiny"
            build_tiny_model(model, warmup_steps=150)
        results: dict[str, list[StepTimer]] = {"rankrl train": [], "bare TRL": []}
        for r in range(a.repeats):
            for name, fn in (("rankrl train", run_rankrl), ("bare TRL", run_trl)):
                results[name].append(fn(model, Path(tmp) / f"{name.split()[0]}-{r}", a.steps, a.paradigm))
    rows: dict[str, dict[str, Any]] = {}
    for name, timers in results.items():
        steps = [t for timer in timers for t in timer.times[1:]]
        lengths = [x for timer in timers for x in timer.lengths]
        rows[name] = {"median": statistics.median(steps), "mean": statistics.fmean(steps), "n": len(steps),
                      "length": statistics.fmean(lengths) if lengths else float("nan")}
    print("| path | median s/step | mean s/step | steps timed | mean completion tokens |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median']:.3f} | {row['mean']:.3f} | {row['n']} | {row['length']:.1f} |")
    ratio = rows["rankrl train"]["median"] / rows["bare TRL"]["median"]
    verdict = "within" if ratio <= TARGET else "OVER"
    print(f"\nratio rankrl / TRL (median step time): {ratio:.3f} -> {verdict} the {TARGET - 1:.0%} target "
          f"({a.paradigm}, {a.steps} steps x {a.repeats} repeats, torch threads {a.threads})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
