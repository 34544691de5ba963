"""curves.png for every training run, and ``rankrl plot``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankrl.core.cli import main as rankrl
from rankrl.rl.curves import CURVES_FILE, HISTORY_FILE, _panel_specs, draw_curves, read_history, training_rows

PNG = b"\x89PNG\r\n\x1a\n"
HISTORY = [
    {"step": s, "reward": 0.1 * s, "rewards/format/mean": 0.5, "rewards/listwise_ndcg/mean": 0.05 * s,
     "rankrl/zero_variance_fraction": 0.5 / s, "completions/mean_length": 100 + s, "kl": 0.001 * s,
     "learning_rate": 1e-6, "loss": 0.0}
    for s in (1, 2, 3)
] + [{"step": 3, "train_runtime": 12.0, "train_loss": 0.1}]


def test_panels_for_grpo_and_sft() -> None:
    grpo = _panel_specs({k for h in HISTORY[:3] for k in h})
    assert [title for title, _ in grpo] == ["reward", "zero-variance share", "completion length (tokens)",
                                            "KL to the reference", "learning rate"]
    assert [label for _, label in grpo[0][1]] == ["total (weighted)", "format", "listwise_ndcg"]
    sft = _panel_specs({"loss", "mean_token_accuracy", "learning_rate"})
    assert [title for title, _ in sft] == ["loss", "token accuracy", "learning rate"]


def test_draw_writes_a_png_and_skips_an_empty_history(tmp_path: Path) -> None:
    assert len(training_rows(HISTORY)) == 3  # the final summary row is not a step
    path = draw_curves(HISTORY, tmp_path / "c.png", title="run")
    assert path is not None and path.read_bytes().startswith(PNG) and path.stat().st_size > 10_000
    assert draw_curves([{"step": 3, "train_runtime": 1.0}], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_plot_command_from_history_or_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    (run / "checkpoint-2").mkdir(parents=True)
    (run / "checkpoint-10").mkdir()
    (run / "checkpoint-2" / "trainer_state.json").write_text(json.dumps({"log_history": HISTORY[:1]}))
    (run / "checkpoint-10" / "trainer_state.json").write_text(json.dumps({"log_history": HISTORY}))
    assert read_history(run) == HISTORY  # the newest checkpoint (10, not 2)
    assert rankrl(["plot", str(run)]) == 0
    assert (run / CURVES_FILE).read_bytes().startswith(PNG)
    assert "3 logged steps" in capsys.readouterr().err
    (run / HISTORY_FILE).write_text(json.dumps(HISTORY[:2]))
    assert read_history(run) == HISTORY[:2]  # log_history.json (written at every save) wins


def test_plot_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rankrl(["plot", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert rankrl(["plot", str(tmp_path)]) == 2
    assert "no log_history.json" in capsys.readouterr().err
    (tmp_path / HISTORY_FILE).write_text("[{\"epoch\": 0}]")
    assert rankrl(["plot", str(tmp_path)]) == 2
    assert "no training step yet" in capsys.readouterr().err


@pytest.mark.slow
def test_train_writes_curves_and_compact_lines(warm_tiny_model: Path, tiny_args, tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert rankrl(["train", *tiny_args(warm_tiny_model, out), "--log_completions", "true"]) == 0
    captured = capfd.readouterr()
    text = captured.out + captured.err
    assert "step 1/2 | reward " in text and "step 2/2 | reward " in text and "s/step" in text
    assert "{'loss'" not in text  # no raw metrics dict
    # 3 log calls (2 steps + the final summary) x at most 3 samples, of the 8 completions in each batch
    assert 0 < text.count("│ SYSTEM") <= 3 * 3
    assert (out / CURVES_FILE).read_bytes().startswith(PNG)
    history = json.loads((out / HISTORY_FILE).read_text())
    assert [h["step"] for h in training_rows(history)] == [1, 2]
    assert all(v is not None for h in history for v in h.values())  # nothing logged as None
