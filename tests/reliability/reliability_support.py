"""Helpers for the reliability battery: the ``rankrl`` CLI run as a real subprocess, a small hand-written local
benchmark (so single lines can be broken on purpose), and the tiny-recipe training command.

Subprocesses get one CPU thread and the Hugging Face libraries in offline mode: the battery must never reach the
network, and the machine running it is shared.

``ForkServer``: a fresh ``python -m rankrl.core.cli`` spends 10-20 s importing torch/TRL before it can reject a bad flag;
the battery has ~80 cases, each run twice (plain and ``--debug``). The fork server imports the stack once and
forks one child process per command, which runs ``rl.cli`` as ``__main__`` exactly as ``python -m rankrl.core.cli`` does,
with its own working directory, environment, stdout/stderr files and exit status. The exit code and stderr the
tests check are still those of a separate process; ``test_fork_server_matches_a_fresh_interpreter`` checks that
a fresh interpreter gives the same code and message for one case of every command.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_RECIPE = REPO_ROOT / "rl" / "recipes" / "tiny.yaml"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment every ``rankrl`` subprocess runs in: offline, one thread, the repository importable."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
        WANDB_MODE="disabled",
    )
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    env.update(extra)
    return env


def cli_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "rankrl.core.cli", *map(str, args)]


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:  # shown by pytest when an assertion fails
        return f"rankrl {' '.join(self.args)} -> {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run_cli(args: Sequence[str], cwd: Path, timeout: float = 300, **env: str) -> CliResult:
    """Run ``rankrl ARGS`` in ``cwd`` as a subprocess: the exit code and stderr are the real ones."""
    proc = subprocess.run(cli_command(args), check=False, cwd=cwd, env=cli_env(**env), capture_output=True, text=True,
                          timeout=timeout)
    return CliResult([str(a) for a in args], proc.returncode, proc.stdout, proc.stderr)


_FORK_SERVER = r"""
import json, os, runpy, sys, traceback

responses = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # import-time chatter goes to the server log, not into the response channel
import datasets, torch, transformers, trl  # noqa: E401,F401  - the expensive part, done once
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: F401  (lazy modules: load now)
from trl import GRPOConfig, GRPOTrainer, ModelConfig, SFTConfig, SFTTrainer, TrlParser  # noqa: F401
import rankrl.data.benchmarks, rankrl.data.cli, rankrl.data.rows, rankrl.eval.backends.hf, rankrl.eval.cli  # noqa
import rankrl.eval.runner, rankrl.eval.score_cli  # noqa: E401,F401
import rankrl.prompts, rankrl.rewards.registry, rankrl.core.cli, rankrl.rl.sft, rankrl.rl.tiny_model, rankrl.rl.train  # noqa: E401,F401
responses.write("ready\n")
responses.flush()
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(request["cwd"])
            os.environ.clear()
            os.environ.update(request["env"])
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            for fd, name in ((1, "stdout"), (2, "stderr")):
                os.dup2(os.open(request[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
            sys.argv = ["rankrl", *request["args"]]
            sys.modules.pop("rankrl.core.cli", None)  # run it afresh as __main__, as `python -m rankrl.core.cli` does
            try:
                runpy.run_module("rankrl.core.cli", run_name="__main__", alter_sys=True)
                code = 0
            except SystemExit as exit_:  # what the interpreter does with sys.exit(...)
                if exit_.code is None or isinstance(exit_.code, int):
                    code = exit_.code or 0
                else:
                    print(exit_.code, file=sys.stderr)
                    code = 1
            except BaseException:
                traceback.print_exc()
                code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    responses.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
    responses.flush()
"""


class ForkServer:
    """Runs ``rankrl`` commands as forked child processes of one pre-imported interpreter (see module docstring)."""

    def __init__(self, log: Path):
        self.scratch = Path(tempfile.mkdtemp(prefix="rankrl-fork-"))
        self._log = open(log, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, "-c", _FORK_SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=cli_env(), text=True,
                                     start_new_session=True)
        self._count = 0
        if self._readline(600) != "ready":
            raise RuntimeError(f"fork server failed to start; see {log}")

    def _readline(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            raise TimeoutError(f"rankrl command did not finish within {timeout} s")
        return self.proc.stdout.readline().strip()

    def run(self, args: Sequence[str], cwd: Path, timeout: float = 300, **env: str) -> CliResult:
        self._count += 1
        out, err = self.scratch / f"{self._count}.out", self.scratch / f"{self._count}.err"
        request = {"args": [str(a) for a in args], "cwd": str(cwd), "env": cli_env(**env), "stdout": str(out),
                   "stderr": str(err)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self._readline(timeout)
        if not answer:
            raise RuntimeError("fork server died")
        code = json.loads(answer)["returncode"]
        result = CliResult(request["args"], code, out.read_text(errors="replace"), err.read_text(errors="replace"))
        out.unlink()
        err.unlink()
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root`` -> (size, mtime_ns): what 'nothing was written' is checked against."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (0 if path.is_dir() else st.st_size, st.st_mtime_ns)
    return out


def assert_clean_error(result: CliResult, *needles: str) -> None:
    """Exit code 2, a one-paragraph ``rankrl <cmd>: error: ...`` message containing every needle, no traceback."""
    assert result.returncode == 2, str(result)
    assert "Traceback" not in result.stderr, str(result)
    error_lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert error_lines, str(result)
    message = result.stderr[result.stderr.index(error_lines[0]):]
    for needle in needles:
        assert needle in message, f"{needle!r} not in the error message\n{result}"


# --------------------------------------------------------------------------------------------- data


def write_local_benchmark(folder: Path, qids: Sequence[str] = ("q1", "q2", "q3"), ndocs: int = 6,
                          extra_docids: Sequence[str] = ()) -> Path:
    """A small ``local:<dir>`` benchmark written by hand (queries.jsonl, corpus.jsonl, qrels.txt, run.trec).

    Each query has ``ndocs`` candidates d0..d{n-1} (+ ``extra_docids``); d0 is relevant (grade 2), d1 partly
    (grade 1), the rest judged 0 or unjudged. Word overlap makes the task non-trivial for BM25-free tests.
    """
    folder.mkdir(parents=True, exist_ok=True)
    words = ["red cat", "blue dog", "green fox", "black owl", "white bee", "pink ant"]
    docids = [f"d{i}" for i in range(ndocs)] + list(extra_docids)
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"qid": qid, "text": words[i % len(words)]}) + "\n" for i, qid in enumerate(qids))
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"docid": docid, "text": f"passage {i} about {words[i % len(words)]} and more"}) + "\n" for i, docid in enumerate(docids))
    with open(folder / "qrels.txt", "w", encoding="utf-8") as f:
        for qid in qids:
            f.write(f"{qid} 0 {docids[0]} 2\n{qid} 0 {docids[1]} 1\n{qid} 0 {docids[2]} 0\n")
            f.writelines(f"{qid} 0 {docid} 1\n" for docid in extra_docids)
    with open(folder / "run.trec", "w", encoding="utf-8") as f:
        for qid in qids:
            order = docids[::-1]  # the relevant ones last: a reranker has work to do
            f.writelines(f"{qid} Q0 {docid} {rank} {100 - rank}.0 bm25\n" for rank, docid in enumerate(order, start=1))
    return folder


# --------------------------------------------------------------------------------------------- training

MAX_STEPS = 4


def train_args(model: Path, out: Path) -> list[str]:
    """The tiny recipe, 4 GRPO steps, a checkpoint after every step (CPU, seed 0 from the recipe)."""
    return ["train", "--config", str(TINY_RECIPE), "--model_name_or_path", str(model), "--output_dir", str(out),
            *SMOKE_FLAGS,
            "--max_steps", str(MAX_STEPS), "--save_steps", "1", "--save_total_limit", str(MAX_STEPS)]


# tiny.yaml is sized for the quickstart (pointwise true/false, 8 x 8 per step, a log every 5 steps); these tests use
# the setwise-warmed tiny model at smoke-test sizes with a log line every step.
SMOKE_FLAGS = ("--paradigm", "setwise", "--template", "setwise", "--rewards", "default", "--synthetic_task", "match",
               "--synthetic_queries", "32", "--group_size", "4", "--num_generations", "4",
               "--per_device_train_batch_size", "8", "--max_completion_length", "48", "--logging_steps", "1",
               "--disable_tqdm", "true")
