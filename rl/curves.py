"""Training curves of any ``rankrl train``/``sft`` run: ``OUTPUT_DIR/curves.png``, and ``rankrl plot OUTPUT_DIR``.

During training ``CurvesCallback`` writes the trainer's log history to ``OUTPUT_DIR/log_history.json`` and redraws
``curves.png`` at every checkpoint save and at the end. ``rankrl plot OUTPUT_DIR`` redraws it afterwards (or while
a run is going) from ``log_history.json``, or from the newest ``checkpoint-N/trainer_state.json`` when the run
was started before this file existed. Panels are drawn for the metrics the run logged: total and per-function
reward, zero-variance share, completion length, KL (GRPO); loss and token accuracy (SFT); learning rate.
Uses matplotlib's object API (``Figure`` + Agg canvas): no global pyplot state, works without a display.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rankrl.core.atomic import atomic_open, atomic_write_text
from rankrl.core.errors import RankrlError

CURVES_FILE = "curves.png"
HISTORY_FILE = "log_history.json"

_REWARD_FUNC = re.compile(r"^rewards/(?P<name>.+)/mean$")


def _panel_specs(keys: set[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, [(metric key, label)]) for every panel with data, in a fixed order."""
    panels: list[tuple[str, list[tuple[str, str]]]] = []
    rewards = [("reward", "total (weighted)")] if "reward" in keys else []
    rewards += [(k, _REWARD_FUNC.match(k).group("name")) for k in sorted(keys) if _REWARD_FUNC.match(k)]
    if rewards:
        panels.append(("reward", rewards))
    zero = [(k, label) for k, label in (("rankrl/zero_variance_fraction", "zero-variance share (rankrl)"),
                                          ("frac_reward_zero_std", "zero reward std (TRL)")) if k in keys]
    if zero:
        panels.append(("zero-variance share", zero[:1]))
    if "completions/mean_length" in keys:
        series = [("completions/mean_length", "mean")]
        series += [(k, k.split("/")[1].replace("_length", "")) for k in ("completions/min_length",
                                                                        "completions/max_length") if k in keys]
        panels.append(("completion length (tokens)", series))
    if "kl" in keys:
        panels.append(("KL to the reference", [("kl", "kl")]))
    if "loss" in keys and "reward" not in keys:
        panels.append(("loss", [("loss", "loss")]))
    if "mean_token_accuracy" in keys:
        panels.append(("token accuracy", [("mean_token_accuracy", "accuracy")]))
    if "learning_rate" in keys:
        panels.append(("learning rate", [("learning_rate", "lr")]))
    return panels


def training_rows(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-step logging rows of a log history (not eval rows, not the final summary)."""
    return [h for h in history if "step" in h and "train_runtime" not in h and not any(k.startswith("eval_")
                                                                                        for k in h)]


def draw_curves(history: Sequence[dict[str, Any]], path: Path, title: str = "") -> Path | None:
    """Draw ``curves.png`` from a log history; None (nothing written) when no step has been logged yet."""
    rows = training_rows(history)
    if not rows:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    keys = {k for row in rows for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    panels = _panel_specs(keys)
    if not panels:
        return None
    cols = 2 if len(panels) > 1 else 1
    nrows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(6 * cols, 3.2 * nrows), constrained_layout=True)
    FigureCanvasAgg(fig)
    steps = [row["step"] for row in rows]
    for i, (panel, series) in enumerate(panels):
        ax = fig.add_subplot(nrows, cols, i + 1)
        for key, label in series:
            values = [row.get(key) for row in rows]
            ax.plot(steps, [float("nan") if v is None else v for v in values], label=label,
                    marker="o" if len(steps) < 30 else None, markersize=3,
                    linewidth=2 if key == "reward" else 1.2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("step", fontsize=9)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    return path


def write_history(output_dir: Path, history: Sequence[dict[str, Any]]) -> Path:
    path = Path(output_dir) / HISTORY_FILE
    atomic_write_text(path, json.dumps(list(history), indent=1, default=str) + "\n")
    return path


def read_history(output_dir: Path) -> list[dict[str, Any]]:
    """The run's log history: ``log_history.json``, else the newest checkpoint's ``trainer_state.json``."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        raise RankrlError(f"{output_dir} is not a folder: pass a training output_dir")
    candidates = [output_dir / HISTORY_FILE]
    checkpoints = sorted((p for p in output_dir.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
                         key=lambda p: int(p.name.split("-")[-1]), reverse=True)
    candidates += [output_dir / "trainer_state.json"] + [p / "trainer_state.json" for p in checkpoints]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise RankrlError(f"{path}: cannot read the log history ({err})") from err
        history = data if isinstance(data, list) else data.get("log_history") if isinstance(data, dict) else None
        if not isinstance(history, list):
            raise RankrlError(f"{path}: no log history list in it")
        return history
    raise RankrlError(f"{output_dir}: no {HISTORY_FILE}, trainer_state.json or checkpoint-N/trainer_state.json; "
                      "is it the output_dir of a rankrl train/sft run that has logged at least one step?")


def make_callback(title: str = "", say: Callable[[str], None] | None = None) -> Any:
    """A ``TrainerCallback`` that writes the log history and ``curves.png`` at every save and at the end."""
    from transformers.trainer_callback import TrainerCallback

    class CurvesCallback(TrainerCallback):
        def _draw(self, args: Any, state: Any) -> None:
            if not state.is_world_process_zero:
                return
            out = Path(args.output_dir)
            write_history(out, state.log_history)
            draw_curves(state.log_history, out / CURVES_FILE, title=title)

        def on_save(self, args, state, control, **kwargs):
            self._draw(args, state)

        def on_train_end(self, args, state, control, **kwargs):
            self._draw(args, state)
            if say is not None and state.is_world_process_zero and (Path(args.output_dir) / CURVES_FILE).exists():
                say(f"training curves: {Path(args.output_dir) / CURVES_FILE}")

    return CurvesCallback()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankrl plot",
        description="Redraw OUTPUT_DIR/curves.png (reward, per-function rewards, zero-variance share, completion "
                    "length, KL; loss for SFT) from a training run's log history.", allow_abbrev=False)
    parser.add_argument("output_dir", help="the output_dir of a rankrl train or sft run")
    parser.add_argument("--out", help=f"where to write the PNG (default: OUTPUT_DIR/{CURVES_FILE})")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    out_dir = Path(args.output_dir)
    history = read_history(out_dir)
    target = Path(args.out) if args.out else out_dir / CURVES_FILE
    if draw_curves(history, target, title=out_dir.name) is None:
        raise RankrlError(f"{out_dir}: the log history has no training step yet (logging_steps not reached?)")
    print(f"rankrl plot: wrote {target} ({len(training_rows(history))} logged steps)", file=sys.stderr)
    return 0
