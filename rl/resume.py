"""What rerunning ``rankrl train``/``rankrl sft`` into an existing ``output_dir`` does: the resume policy.

A cluster requeues a job; a user reruns a command. Four situations, decided before a model is loaded:

* **finished run** — ``output_dir`` holds the final model and its ``rankrl.json`` records a step at or past
  ``max_steps``: nothing to do. The command says so and exits 0 without touching the folder (Hugging Face's
  Trainer would resume at ``global_step == max_steps``, train one more step and overwrite the released model).
  Raise ``max_steps`` to train further.
* **final save cut short** — the newest complete ``checkpoint-N`` already reached ``max_steps`` but the final
  model was not (completely) saved, e.g. a kill during the final save: the checkpoint's weights are saved as the
  final model; no step is trained.
* **changed settings** — the checkpoint's ``rankrl.json`` (or the finished model's) records other settings than
  this command (rewards, learning rate, template, data, base model, ...): refused with the list of changed
  fields, unless ``resume_policy`` says otherwise:

  ``check`` (default) refuse; ``continue`` resume with the new settings, recording the change in ``rankrl.json``
  (``resumed_with_changes``); ``fresh`` start again from step 0: the previous run's files are moved, not deleted,
  to ``output_dir/previous-run-<UTC time>/``.
* **interrupted run** — resume from the newest complete checkpoint (``rl.checkpoint``); ``samples.jsonl`` is cut
  back to the steps before that checkpoint so the resumed steps are not logged twice.

``max_steps``, ``save_steps``, logging and other settings that do not change what the steps so far computed are
not compared (``rankrl.json`` does not record them).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankrl.core.errors import ConfigError
from rankrl.core.metadata import METADATA_FILE, read_metadata
from rankrl.rl.checkpoint import TRAINER_STATE, _has_weights, checkpoint_folders, resume_checkpoint

RESUME_POLICIES = ("check", "continue", "fresh")
SAMPLES_FILE = "samples.jsonl"
PREVIOUS_PREFIX = "previous-run-"
# rankrl.json fields that describe the file, not the settings the steps were computed with
_NOT_SETTINGS = ("schema", "step", "versions", "resumed_with_changes", "merged_from_adapter", "source")
_DERIVED = ("seconds", "elapsed")


@dataclass
class ResumePlan:
    """What this run does with ``output_dir``."""

    output_dir: Path
    policy: str
    checkpoint: str | None = None
    finished: str | None = None
    """Set when the run is already complete: the message to print before exiting 0."""
    final_save_only: bool = False
    """The checkpoint reached max_steps: save it as the final model, train nothing."""
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    fresh: bool = False
    """Start from step 0, moving the previous run's files aside first."""


def check_policy(policy: str) -> list[str]:
    """Problems with a ``resume_policy`` value (for the configuration checks)."""
    if policy not in RESUME_POLICIES:
        return [f"resume_policy must be one of {', '.join(RESUME_POLICIES)}, got {policy!r}"]
    return []


# ----------------------------------------------------------------------------------------------- settings diff


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _comparable(meta: dict[str, Any]) -> dict[str, Any]:
    flat = _flatten({k: v for k, v in meta.items() if k not in _NOT_SETTINGS})
    # JSON round trip: tuples vs lists, int vs float spelled the same in rankrl.json
    return {k: json.loads(json.dumps(v, default=str)) for k, v in flat.items()
            if not any(k.endswith(word) for word in _DERIVED)}


def settings_diff(recorded: dict[str, Any], current: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Fields whose value differs between a checkpoint's ``rankrl.json`` and this run's: ``{field: (then, now)}``
    (a field missing on one side shows as ``None`` there)."""
    old, new = _comparable(recorded), _comparable(current)
    return {k: (old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k)}


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 160 else text[:159] + "…"


def describe_changes(changes: dict[str, tuple[Any, Any]]) -> str:
    return "\n".join(f"  - {key}: {_show(then)} -> {_show(now)}" for key, (then, now) in changes.items())


def _refuse(where: str, changes: dict[str, tuple[Any, Any]], output_dir: Path) -> ConfigError:
    return ConfigError(
        f"{where} was trained with other settings than this command (recorded -> now):\n{describe_changes(changes)}\n"
        f"Resuming would train one model under two configurations. Pass --resume_policy continue to resume with "
        f"the new settings anyway (recorded in rankrl.json), --resume_policy fresh to start again from step 0 (the "
        f"previous run is moved to {output_dir}/{PREVIOUS_PREFIX}<time>/), or use another output_dir"
    )


# ----------------------------------------------------------------------------------------------- the plan


def _state(checkpoint: str | Path) -> dict[str, Any]:
    try:
        return json.loads((Path(checkpoint) / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def finished_step(output_dir: str | Path) -> int | None:
    """The step of the final model saved in ``output_dir`` (its top-level ``rankrl.json`` is written after the
    weights, so a save cut short has none), or None when there is no complete final model."""
    output_dir = Path(output_dir)
    if not (output_dir / METADATA_FILE).is_file() or not _has_weights(output_dir):
        return None
    meta = read_metadata(output_dir) or {}
    step = meta.get("step")
    return step if isinstance(step, int) else None


def plan_resume(output_dir: str | Path, explicit: str | None, paradigm_name: str, meta: dict[str, Any],
                max_steps: int, policy: str, warn: Callable[[str], None]) -> ResumePlan:
    """Decide what to do with ``output_dir`` (read-only: nothing is moved or written here; see ``prepare``).
    Raises ``ConfigError`` for changed settings under the ``check`` policy."""
    problems = check_policy(policy)
    if problems:
        raise ConfigError(problems[0])
    output_dir = Path(output_dir)
    plan = ResumePlan(output_dir, policy)
    if policy == "fresh":
        plan.fresh = output_dir.is_dir() and any(p.name != ".rankrl.lock" for p in output_dir.iterdir())
        return plan
    done = finished_step(output_dir) if explicit is None else None
    if done is not None and (max_steps <= 0 or done >= max_steps):
        changes = settings_diff(read_metadata(output_dir) or {}, meta)
        if changes and policy == "check":
            raise _refuse(f"the finished run in {output_dir}", changes, output_dir)
        plan.finished = (
            f"{output_dir} already holds the final model of this run (step {done}"
            + (f" of max_steps {max_steps}" if max_steps > 0 else "")
            + "): nothing to do, the folder is left as it is. Raise max_steps to train further, or pass "
              "--resume_policy fresh to train again from step 0"
        )
        return plan
    plan.checkpoint = resume_checkpoint(str(output_dir), explicit, paradigm_name, warn=warn)
    if plan.checkpoint is None:
        return plan
    recorded = read_metadata(plan.checkpoint)
    if recorded is not None:
        plan.changes = settings_diff(recorded, meta)
        if plan.changes and policy == "check":
            raise _refuse(plan.checkpoint, plan.changes, output_dir)
        if plan.changes:
            warn(f"resuming {plan.checkpoint} with changed settings (resume_policy continue):\n"
                 f"{describe_changes(plan.changes)}")
            history = list(recorded.get("resumed_with_changes") or [])
            meta["resumed_with_changes"] = history + [{
                "step": _state(plan.checkpoint).get("global_step"),
                "changes": {k: [then, now] for k, (then, now) in plan.changes.items()},
            }]
        elif recorded.get("resumed_with_changes"):
            meta["resumed_with_changes"] = recorded["resumed_with_changes"]
    state = _state(plan.checkpoint)
    target = max_steps if max_steps > 0 else int(state.get("max_steps") or 0)
    step = int(state.get("global_step") or 0)
    plan.final_save_only = target > 0 and step >= target
    return plan


# ----------------------------------------------------------------------------------------------- acting on it


def prepare(plan: ResumePlan, say: Callable[[str], None]) -> None:
    """The writes the plan needs before training (main process, under the folder lock): move a previous run aside
    (``fresh``), cut ``samples.jsonl`` back to the steps before the resumed checkpoint."""
    if plan.fresh:
        aside = move_previous_run(plan.output_dir)
        say(f"resume_policy fresh: the previous run in {plan.output_dir} was moved to {aside}; training starts "
            "from step 0")
    step = int(_state(plan.checkpoint).get("global_step") or 0) if plan.checkpoint else 0
    dropped = trim_samples(plan.output_dir, step)
    if dropped:
        say(f"{SAMPLES_FILE}: dropped {dropped} sample line(s) of steps after {plan.checkpoint or 'step 0'} (the "
            "interrupted run logged them; they are generated again)")


def move_previous_run(output_dir: Path) -> Path:
    """Move everything in ``output_dir`` (but earlier ``previous-run-*`` folders and the lock) into a new
    ``previous-run-<UTC time>`` folder; nothing is deleted."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = output_dir / f"{PREVIOUS_PREFIX}{stamp}"
    n = 1
    while aside.exists():
        n += 1
        aside = output_dir / f"{PREVIOUS_PREFIX}{stamp}-{n}"
    aside.mkdir()
    for path in sorted(output_dir.iterdir()):
        if path == aside or path.name.startswith(PREVIOUS_PREFIX) or path.name == ".rankrl.lock":
            continue
        os.replace(path, aside / path.name)
    return aside


def trim_samples(output_dir: Path, step: int) -> int:
    """Keep the ``samples.jsonl`` records generated before ``step`` (a record's ``step`` is the global step at
    generation time, so the samples of steps 1..N carry 0..N-1); drop the rest and any line cut by a kill.
    Returns the number of lines dropped (0: file untouched)."""
    from rankrl.core.atomic import atomic_write_text

    path = output_dir / SAMPLES_FILE
    if not path.is_file() or path.is_symlink():
        return 0
    kept, dropped = [], 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line) if line.endswith("\n") else None
            except ValueError:
                record = None
            if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] < step:
                kept.append(line)
            else:
                dropped += 1
    if dropped:
        atomic_write_text(path, "".join(kept))
    return dropped


def finish_from_checkpoint(trainer: Any, checkpoint: str) -> None:
    """Make ``trainer`` hold ``checkpoint``'s weights and state without training: its step already reached
    ``max_steps`` (``Trainer.train`` would run one more step)."""
    from transformers import TrainerState

    trainer._load_from_checkpoint(checkpoint)
    trainer.state = TrainerState.load_from_json(os.path.join(checkpoint, TRAINER_STATE))


def train_or_finish(trainer: Any, plan: ResumePlan, say: Callable[[str], None]) -> None:
    if plan.final_save_only:
        say(f"{plan.checkpoint} already reached max_steps: saving it as the final model (no step is trained)")
        finish_from_checkpoint(trainer, plan.checkpoint)
    else:
        trainer.train(resume_from_checkpoint=plan.checkpoint)


@contextlib.contextmanager
def writing(output_dir: str | Path, main_process: bool) -> Iterator[None]:
    """While training writes ``output_dir``: hold its advisory lock (main process only: every process of a
    launch writes the same folder) and report a full disk as ``cannot access OUTPUT_DIR: No space left on
    device``. Every checkpoint and the final model get the umask's permissions (``apply_umask``)."""
    from rankrl.core.atomic import apply_umask, storage_errors
    from rankrl.core.lock import folder_lock

    with contextlib.ExitStack() as stack:
        if main_process:
            stack.enter_context(folder_lock(output_dir))
        stack.enter_context(storage_errors(output_dir))
        yield
        if main_process:
            apply_umask(output_dir, recursive=False)
            for folder in checkpoint_folders(output_dir):
                apply_umask(folder)

