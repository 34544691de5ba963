"""Second probing pass, rerunning ``rankrl train``/``sft`` into an existing ``output_dir`` (items 1, 2, 7, 13).

Before the fix, rerunning a finished run resumed from its last checkpoint, trained one step past ``max_steps`` and
overwrote the released model; a kill during the final save ended the same way; a changed learning rate or
reward set on resume went unnoticed; two trainings into one folder overwrote each other; and ``samples.jsonl``
repeated the steps a killed run had logged after its last checkpoint.

All cases start from copies of the session's uninterrupted 4-step run (``uninterrupted``), so each costs at most a
few training steps.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from reliability_support import MAX_STEPS, REPO_ROOT, assert_clean_error, run_cli, train_args, tree

from rankrl.core.lock import folder_lock

pytestmark = pytest.mark.slow

SFT_RECIPE = REPO_ROOT / "rl" / "recipes" / "sft-tiny.yaml"


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(bool((wa[k] == wb[k]).all()) for k in wa)


def _copy_run(uninterrupted: Path, out: Path) -> Path:
    shutil.copytree(uninterrupted, out)
    return out


def _samples(folder: Path) -> Counter:
    lines = (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    return Counter((r["step"], r["qid"], r["completion"]) for r in map(json.loads, lines))


# =========================================================================================== item 1


def test_rerunning_a_finished_train_run_changes_nothing(tiny_model, uninterrupted, tmp_path):
    out = _copy_run(uninterrupted, tmp_path / "out")
    before = tree(out)
    result = run_cli(train_args(tiny_model, out), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert f"{out} already holds the final model of this run (step {MAX_STEPS} of max_steps {MAX_STEPS})" \
        in result.stderr, str(result)
    assert "nothing to do" in result.stderr and "resuming from" not in result.stderr
    assert tree(out) == before, "a finished run was touched"


def test_kill_during_the_final_save_does_not_train_an_extra_step(tiny_model, uninterrupted, tmp_path):
    """The final save cut short: weights half-written, no top-level rankrl.json. The rerun saves checkpoint-4 as
    the final model; it does not train step 5."""
    out = _copy_run(uninterrupted, tmp_path / "out")
    (out / "rankrl.json").unlink()
    weights = out / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    result = run_cli(train_args(tiny_model, out), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert f"checkpoint-{MAX_STEPS} already reached max_steps: saving it as the final model" in result.stderr, \
        str(result)
    assert f"saved {out} (step {MAX_STEPS})" in result.stderr, str(result)
    assert not (out / f"checkpoint-{MAX_STEPS + 1}").exists()
    assert json.loads((out / "rankrl.json").read_text())["step"] == MAX_STEPS
    assert _same_weights(out / "model.safetensors", uninterrupted / "model.safetensors")


def test_raising_max_steps_trains_further(tiny_model, uninterrupted, tmp_path):
    """A finished run is finished for *its* max_steps: asking for more steps continues it."""
    out = _copy_run(uninterrupted, tmp_path / "out")
    args = train_args(tiny_model, out)
    args[args.index("--max_steps") + 1] = str(MAX_STEPS + 1)
    result = run_cli(args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert f"resuming from {out}/checkpoint-{MAX_STEPS}" in result.stderr, str(result)
    assert json.loads((out / "rankrl.json").read_text())["step"] == MAX_STEPS + 1


def _sft_args(model: Path, out: Path, traces: Path, *extra: str) -> list:
    return ["sft", "--config", SFT_RECIPE, "--model_name_or_path", model, "--traces", traces, "--output_dir", out,
            "--max_steps", "2", "--save_steps", "1", "--use_cpu", "true", "--bf16", "false", *extra]


@pytest.fixture(scope="module")
def sft_run(tiny_model, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sft-finished")
    record = {"query": "red cat", "passages": ["a red cat", "a blue dog"],
              "completion": "<think>the first names it</think><answer>[1]</answer>"}
    traces = root / "traces.jsonl"
    traces.write_text("\n".join([json.dumps(record)] * 8) + "\n")
    out = root / "out"
    result = run_cli(_sft_args(tiny_model, out, traces), cwd=root, timeout=600)
    assert result.returncode == 0, str(result)
    return out, traces


def test_rerunning_a_finished_sft_run_changes_nothing(tiny_model, sft_run, tmp_path):
    out, traces = sft_run
    before = tree(out)
    result = run_cli(_sft_args(tiny_model, out, traces), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert "already holds the final model of this run (step 2 of max_steps 2)" in result.stderr, str(result)
    assert tree(out) == before


# =========================================================================================== item 2


def _interrupted_at_2(uninterrupted: Path, out: Path) -> Path:
    shutil.copytree(uninterrupted / "checkpoint-2", out / "checkpoint-2")
    return out


def test_resume_with_changed_settings_is_refused_with_a_diff(tiny_model, uninterrupted, tmp_path):
    out = _interrupted_at_2(uninterrupted, tmp_path / "out")
    before = tree(tmp_path)
    args = [*train_args(tiny_model, out), "--learning_rate", "0.0005", "--rewards", "setwise_choice:0.5"]
    result = run_cli(args, cwd=tmp_path, timeout=600)
    assert_clean_error(result, f"{out}/checkpoint-2 was trained with other settings than this command",
                       "training.learning_rate: 0.001 -> 0.0005", "rewards:", "--resume_policy continue",
                       "--resume_policy fresh")
    assert tree(tmp_path) == before


def test_resume_policy_continue_resumes_and_records_the_change(tiny_model, uninterrupted, tmp_path):
    out = _interrupted_at_2(uninterrupted, tmp_path / "out")
    args = [*train_args(tiny_model, out), "--learning_rate", "0.0005", "--resume_policy", "continue"]
    result = run_cli(args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert "resuming" in result.stderr and "training.learning_rate: 0.001 -> 0.0005" in result.stderr
    meta = json.loads((out / "rankrl.json").read_text())
    assert meta["step"] == MAX_STEPS and meta["training"]["learning_rate"] == 0.0005
    assert meta["resumed_with_changes"] == [{"step": 2, "changes": {"training.learning_rate": [0.001, 0.0005]}}]


def test_resume_policy_fresh_moves_the_previous_run_aside(tiny_model, uninterrupted, tmp_path):
    out = _interrupted_at_2(uninterrupted, tmp_path / "out")
    args = [*train_args(tiny_model, out), "--learning_rate", "0.0005", "--resume_policy", "fresh"]
    result = run_cli(args, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert "resuming from" not in result.stderr
    aside = [p for p in out.iterdir() if p.name.startswith("previous-run-")]
    assert len(aside) == 1 and (aside[0] / "checkpoint-2" / "rankrl.json").is_file(), str(result)
    assert f"moved to {aside[0]}" in result.stderr
    assert json.loads((out / "rankrl.json").read_text())["step"] == MAX_STEPS


def test_unknown_resume_policy_is_a_config_error(tiny_model, tmp_path):
    result = run_cli([*train_args(tiny_model, tmp_path / "out"), "--resume_policy", "maybe"], cwd=tmp_path)
    assert_clean_error(result, "resume_policy must be one of check, continue, fresh, got 'maybe'")


# =========================================================================================== item 7


@pytest.mark.parametrize("command", ["train", "sft"])
def test_second_writer_into_an_output_dir_exits_2_naming_the_holder(command, tiny_model, sft_run, tmp_path):
    import os

    out = tmp_path / "out"
    _, traces = sft_run
    args = train_args(tiny_model, out) if command == "train" else _sft_args(tiny_model, out, traces)
    with folder_lock(out, "rankrl train (the first run)"):
        result = run_cli(args, cwd=tmp_path, timeout=600)
    assert_clean_error(result, f"{out} is in use by another rankrl process (PID {os.getpid()}",
                       "rankrl train (the first run)")
    assert sorted(p.name for p in out.iterdir()) == [], "the second writer wrote into the held folder"


# =========================================================================================== item 13


def test_samples_of_steps_after_the_resumed_checkpoint_are_not_repeated(tiny_model, uninterrupted, tmp_path):
    """A kill -9 after step 3 logged its samples but before checkpoint-3 was saved: the rerun resumes from
    checkpoint-2 and regenerates step 3; samples.jsonl must hold each step once (and no line cut by the kill)."""
    out = _interrupted_at_2(uninterrupted, tmp_path / "out")
    full = (uninterrupted / "samples.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    upto3 = [line for line in full if json.loads(line)["step"] < 3]
    (out / "samples.jsonl").write_text("".join(upto3) + full[len(upto3)][:40], encoding="utf-8")
    result = run_cli(train_args(tiny_model, out), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, str(result)
    assert "samples.jsonl: dropped" in result.stderr, str(result)
    assert _samples(out) == _samples(uninterrupted)
