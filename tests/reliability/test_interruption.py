"""``kill -9`` in the middle of ``rankrl train`` and ``rankrl eval``, then the same command again.

Both scenarios run the real CLI as a subprocess group and kill the whole group with SIGKILL (what a cluster
scheduler or the OOM killer does: no handler runs). The kill is triggered by polling for a file the run writes
(a complete checkpoint, lines in the completion cache), with timeouts, so the tests do not depend on timing.

Training: the resumed run must reach the same final step, and its final weights are compared tensor by tensor
with an uninterrupted run of the same command (same seed, CPU, one thread); the figure is printed and recorded
(``record_property``) because the closing note reports it.
Evaluation: the resumed run must write a byte-identical ``run.trec`` and generate no completion twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_support import (
    MAX_STEPS,
    cli_command,
    cli_env,
    run_cli,
    train_args,
    write_local_benchmark,
)

pytestmark = pytest.mark.slow


def start(args: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    """Start ``rankrl ARGS`` in its own process group (so SIGKILL reaches any child it spawned)."""
    handle = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller through proc.log
    proc = subprocess.Popen(cli_command(args), cwd=cwd, env=cli_env(), stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True)
    proc.log = handle  # type: ignore[attr-defined]
    return proc


def kill_9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    proc.log.close()  # type: ignore[attr-defined]
    assert proc.returncode == -signal.SIGKILL


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen, log: Path, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            proc.log.close()  # type: ignore[attr-defined]
            raise AssertionError(f"rankrl exited ({proc.returncode}) before {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.05)
    kill_9(proc)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}:\n{log.read_text()[-4000:]}")


# =========================================================================================== training

def load_weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def max_abs_diff(a: dict, b: dict) -> dict[str, float]:
    assert a.keys() == b.keys()
    return {name: float((a[name].double() - b[name].double()).abs().max()) for name in sorted(a)}


def log_by_step(checkpoint: Path) -> dict[int, dict]:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return {entry["step"]: entry for entry in state["log_history"] if "loss" in entry}


@pytest.fixture(scope="module")
def killed_and_resumed(tiny_model, tmp_path_factory) -> tuple[Path, int, str]:
    """kill -9 once checkpoint-2 is complete, then the same command again: (output_dir, resumed-at step, stderr)."""
    root = tmp_path_factory.mktemp("train-killed")
    out = root / "out"
    args = train_args(tiny_model, out)
    log = root / "killed.log"
    proc = start(args, root, log)
    # rankrl.json is written by the on-save callback, after model, optimizer, scheduler, RNG and trainer state
    wait_for(lambda: (out / "checkpoint-2" / "rankrl.json").is_file(), proc, log, "checkpoint-2", timeout=400)
    kill_9(proc)
    assert not (out / "model.safetensors").exists(), "the run finished before it was killed"
    last_before = max(int(p.name.split("-")[1]) for p in out.glob("checkpoint-*"))
    resumed = run_cli(args, cwd=root, timeout=600)
    assert resumed.returncode == 0, str(resumed)
    return out, last_before, resumed.stderr


def test_kill_9_during_train_resumes_from_last_checkpoint(tiny_model, uninterrupted, killed_and_resumed,
                                                         record_property):
    out, last_before, stderr = killed_and_resumed
    assert f"resuming from {out}/checkpoint-" in stderr, stderr

    # same final step, and every step logged exactly once
    reference_log = log_by_step(uninterrupted / f"checkpoint-{MAX_STEPS}")
    resumed_log = log_by_step(out / f"checkpoint-{MAX_STEPS}")
    assert sorted(resumed_log) == sorted(reference_log) == list(range(1, MAX_STEPS + 1))
    assert json.loads((out / "rankrl.json").read_text())["step"] == MAX_STEPS

    # weights: resumed vs uninterrupted (and both really moved away from the starting model)
    initial = load_weights(tiny_model / "model.safetensors")
    reference = load_weights(uninterrupted / "model.safetensors")
    final = load_weights(out / "model.safetensors")
    moved = max(max_abs_diff(initial, reference).values())
    diffs = max_abs_diff(reference, final)
    worst = max(diffs.values())
    figure = (f"resumed-vs-uninterrupted final weights after kill -9 (resumed at step {last_before} of "
              f"{MAX_STEPS}): max |diff| = {worst:.3g} over {len(diffs)} tensors "
              f"({sum(v == 0.0 for v in diffs.values())} bit-identical); training moved weights by up to {moved:.3g}")
    print("\n" + figure)
    record_property("resume_weight_max_abs_diff", worst)
    record_property("resume_weight_report", figure)
    assert moved > 0, "GRPO did not change the weights: the comparison would be vacuous"
    # the steps after the resume saw the same completions and rewards (RNG + data position restored)
    for step in range(last_before + 1, MAX_STEPS + 1):
        for key in ("reward", "loss", "completions/mean_length"):
            assert resumed_log[step][key] == pytest.approx(reference_log[step][key], rel=1e-6, abs=1e-9), (step, key)
    assert worst <= 1e-6, figure


def test_resumed_train_logs_each_sample_once(uninterrupted, killed_and_resumed):
    """samples.jsonl (sample completions per step) after kill + resume holds what the uninterrupted run's does:
    a generation batch written before the kill and generated again after the resume must not appear twice."""
    out, _, _ = killed_and_resumed

    def samples(folder: Path) -> Counter:
        lines = (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()
        return Counter((r["step"], r["qid"], r["completion"]) for r in map(json.loads, lines))

    assert samples(out) == samples(uninterrupted)


def test_resume_skips_a_checkpoint_cut_short_by_the_kill(tiny_model, uninterrupted, tmp_path):
    """kill -9 *during* a save leaves ``checkpoint-N`` without its trainer state (HF writes checkpoints in place);
    the rerun must resume from the last complete checkpoint instead of failing or silently restarting."""
    out = tmp_path / "out"
    shutil.copytree(uninterrupted / "checkpoint-2", out / "checkpoint-2")
    partial = out / "checkpoint-3"
    partial.mkdir()
    shutil.copy(uninterrupted / "checkpoint-3" / "model.safetensors", partial / "model.safetensors")
    shutil.copy(uninterrupted / "checkpoint-3" / "config.json", partial / "config.json")

    resumed = run_cli(train_args(tiny_model, out), cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, str(resumed)
    assert "Traceback" not in resumed.stderr
    assert f"resuming from {out}/checkpoint-2" in resumed.stderr, str(resumed)
    assert f"skipping incomplete checkpoint(s) {partial} (missing trainer_state.json" in resumed.stderr, str(resumed)
    diffs = max_abs_diff(load_weights(uninterrupted / "model.safetensors"), load_weights(out / "model.safetensors"))
    assert max(diffs.values()) <= 1e-6


# =========================================================================================== evaluation


def eval_args(model: Path, bench: Path, out: Path) -> list[str]:
    """Setwise heapsort over 8 candidates of 5 queries, one prompt per backend call (a cache line each)."""
    return ["eval", "--model", str(model), "--benchmark", f"local:{bench}", "--out", str(out), "--top-k", "8",
            "--num-child", "3", "--k", "3", "--max-new-tokens", "24", "--batch-size", "1", "--device", "cpu",
            "--no-progress"]


def cache_keys(out: Path) -> list[str]:
    lines = (out / "completions.cache.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["key"] for line in lines if line.strip()]


def cost(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["cost"]


@pytest.fixture(scope="module")
def eval_bench(tmp_path_factory) -> Path:
    return write_local_benchmark(tmp_path_factory.mktemp("eval-bench") / "bench",
                                 qids=("q1", "q2", "q3", "q4", "q5"), ndocs=8)


@pytest.fixture(scope="module")
def eval_reference(tiny_model, eval_bench, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval-reference")
    result = run_cli(eval_args(tiny_model, eval_bench, root / "out"), cwd=root, timeout=600)
    assert result.returncode == 0, str(result)
    return root / "out"


def test_kill_9_during_eval_resumes_with_identical_run(tiny_model, eval_bench, eval_reference, tmp_path):
    out = tmp_path / "out"
    args = eval_args(tiny_model, eval_bench, out)
    reference_keys = cache_keys(eval_reference)
    total = len(reference_keys)
    assert total >= 10 and len(set(reference_keys)) == total

    log = tmp_path / "killed.log"
    proc = start(args, tmp_path, log)
    cache = out / "completions.cache.jsonl"
    wait_for(lambda: cache.is_file() and cache.read_bytes().count(b"\n") >= 3, proc, log, "3 cached completions",
             timeout=400)
    kill_9(proc)
    assert not (out / "run.trec").exists(), "the evaluation finished before it was killed"
    done_before = len(cache_keys(out))
    assert 3 <= done_before < total

    resumed = run_cli(args, cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, str(resumed)
    assert f"resuming with {done_before} cached completions" in resumed.stderr, str(resumed)
    assert (out / "run.trec").read_bytes() == (eval_reference / "run.trec").read_bytes()
    # no completion generated twice: every key once, the same keys as the uninterrupted run
    keys = cache_keys(out)
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert sorted(keys) == sorted(reference_keys)
    assert cost(out)["cached"] == done_before
    assert cost(out)["generated"] == total - done_before
    assert json.loads((out / "metrics.json").read_text())["metrics"] == \
        json.loads((eval_reference / "metrics.json").read_text())["metrics"]
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_eval_resume_drops_a_cache_line_cut_by_the_kill(tiny_model, eval_bench, eval_reference, tmp_path):
    """kill -9 in the middle of a cache append leaves a truncated last line: dropped and regenerated, once."""
    out = tmp_path / "out"
    out.mkdir()
    lines = (eval_reference / "completions.cache.jsonl").read_bytes().splitlines(keepends=True)
    kept = 4
    (out / "completions.cache.jsonl").write_bytes(b"".join(lines[:kept]) + lines[kept][: len(lines[kept]) // 2])

    resumed = run_cli(eval_args(tiny_model, eval_bench, out), cwd=tmp_path, timeout=600)
    assert resumed.returncode == 0, str(resumed)
    assert (out / "run.trec").read_bytes() == (eval_reference / "run.trec").read_bytes()
    keys = cache_keys(out)  # every line parses again
    assert len(keys) == len(set(keys)) == len(lines)
    assert cost(out)["cached"] == kept


def test_eval_cache_is_not_reused_for_other_weights_at_the_same_path(tiny_model, eval_bench, tmp_path):
    from safetensors.torch import load_file, save_file

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    out = tmp_path / "out"
    args = [*eval_args(model, eval_bench, out), "--max-queries", "1"]
    first = run_cli(args, cwd=tmp_path)
    assert first.returncode == 0, str(first)
    weights = load_file(str(model / "model.safetensors"))
    save_file({k: v + 0.5 for k, v in weights.items()}, str(model / "model.safetensors"), metadata={"format": "pt"})
    again = run_cli(args, cwd=tmp_path)
    assert again.returncode == 0, str(again)
    assert cost(out)["cached"] == 0, "completions of the previous weights were reused"
    assert f"the weights at {model.resolve()} changed" in again.stderr, str(again)
