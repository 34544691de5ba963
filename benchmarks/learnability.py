"""Learnability on real data: does GRPO teach SmolLM2-135M-Instruct coarse binary relevance on TREC DL 2019?

ProRank's stage-1 question ("prompt warmup via RL") asked on our own hardware, with rankrl's CLIs as a user runs
them. A fixed split of the 43 judged DL19 queries (seeded shuffle of the sorted qids): 30 training queries, 13
held-out queries. Every arm is evaluated on the held-out queries' BM25 top-20 with the ``pointwise-binary``
template (parse-ok rate, nDCG@10, paired standard error against BM25 and against the arm before it):

1. ``base``: the converted model as it is (``rankrl model get smollm2-135m``).
2. ``format``: a few supervised steps (``rankrl sft``) on the training queries' judged passages with *random*
   true/false labels: the model learns the answer format and to stop, not relevance. Needed because the base
   model never writes an ``<answer>`` block (0 of 32 samples at temperature 1 while designing this study), so
   GRPO's rewards would have zero variance and no gradient at all. ``--sft-steps 0`` skips it (then GRPO starts
   from the base model, to measure exactly that).
3. ``grpo``: ``rankrl train --config rl/recipes/prorank-smollm2-135m.yaml`` from the previous arm: GRPO on the
   training queries' judged passages, binary accuracy + format reward, short completions, LoRA.

Writes ``<out>/learnability.md`` (the table, the commands, wall times), ``<out>/reward_curve.png`` and
``<out>/results.json``. Sized for two CPU cores: 52 minutes on an idle 2-core machine; every size is a flag.

    python benchmarks/learnability.py --out outputs/learnability
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DL19 = {"qrels": "qrels.dl19-passage.txt", "topics": "topics.dl19-passage.txt",
        "run": "bm25_trec_results_dl19_top100.txt", "candidates": "bm25_retrieve_results_dl19_top100.json"}
RECIPE = ROOT / "rl" / "recipes" / "prorank-smollm2-135m.yaml"


@dataclass
class Study:
    """Every size of the study (the defaults are what docs/real-model.md reports)."""

    out: Path
    data_dir: Path = ROOT.parent / "shared" / "data" / "trec-dl"
    model: Path | None = None
    split_seed: int = 0
    train_queries: int = 30
    top_k: int = 20
    max_passage_tokens: int = 64
    eval_max_new_tokens: int = 20
    eval_batch_size: int = 16
    sft_steps: int = 16
    sft_batch: int = 8
    sft_lr: float = 2e-4
    grpo_steps: int = 30
    grpo_prompts: int = 4
    grpo_generations: int = 4
    grpo_completion_tokens: int = 24
    grpo_lr: float = 1e-4
    grpo_lora: bool = True
    """LoRA (the recipe's r=16) or, with ``--grpo-full-finetune``, every weight."""
    base_queries: int = 0
    """Held-out queries the base model is evaluated on (0: all); its parse-ok rate is the point, and it costs."""
    threads: int = 2
    dry: bool = False
    """Record the commands without running them (``--report-only``: rebuild the report from finished outputs)."""
    timings: dict[str, float] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)


def rankrl(study: Study, phase: str, args: list[str]) -> None:
    """Run one ``rankrl`` command as a user would; its output goes to ``<out>/logs/<phase>.log``."""
    command = [sys.executable, "-m", "rankrl.core.cli", *args]
    study.commands[phase] = "rankrl " + shlex.join(args)
    if study.dry:
        return
    log = study.out / "logs" / f"{phase}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT, check=False,
                              env={**os.environ, "OMP_NUM_THREADS": str(study.threads)})
    study.timings[phase] = round(time.perf_counter() - start, 1)
    print(f"[{time.strftime('%H:%M:%S')}] {phase}: {study.timings[phase]:.0f} s (exit {done.returncode})",
          flush=True)
    if done.returncode != 0:
        raise SystemExit(f"{phase} failed (exit {done.returncode}); see {log}")


# --- the split -------------------------------------------------------------------------------------------

def split_qids(qrels_path: Path, seed: int, n_train: int) -> tuple[list[str], list[str]]:
    """(train, held-out) query ids: the judged qids, sorted, shuffled with ``seed``; the first ``n_train`` train."""
    qids = sorted({line.split()[0] for line in qrels_path.read_text(encoding="utf-8").splitlines() if line.strip()})
    random.Random(seed).shuffle(qids)
    return sorted(qids[:n_train]), sorted(qids[n_train:])


def write_split(src: Path, dst: Path, qids: set[str], *, judged_only: bool, binary_qrels: bool) -> None:
    """A DL19 folder (same file names) restricted to ``qids``.

    ``judged_only``: keep only judged passages in the first-stage run (training draws from judged passages).
    ``binary_qrels``: grade >= 2 -> 1, else 0 (TREC DL's binary relevance level), for coarse binary training.
    """
    dst.mkdir(parents=True, exist_ok=True)
    judged: dict[str, dict[str, int]] = {}
    qrels_lines = []
    for line in (src / DL19["qrels"]).read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] in qids:
            grade = int(parts[3])
            judged.setdefault(parts[0], {})[parts[2]] = grade
            if binary_qrels:
                grade = int(grade >= 2)
            qrels_lines.append(f"{parts[0]} {parts[1]} {parts[2]} {grade}")
    (dst / DL19["qrels"]).write_text("\n".join(qrels_lines) + "\n", encoding="utf-8")
    topics = [line for line in (src / DL19["topics"]).read_text(encoding="utf-8").splitlines()
              if line.split("\t", 1)[0] in qids]
    (dst / DL19["topics"]).write_text("\n".join(topics) + "\n", encoding="utf-8")

    def keep(qid: str, docid: str) -> bool:
        return qid in qids and (not judged_only or docid in judged.get(qid, {}))

    run = [line for line in (src / DL19["run"]).read_text(encoding="utf-8").splitlines()
           if line.split() and keep(line.split()[0], line.split()[2])]
    (dst / DL19["run"]).write_text("\n".join(run) + "\n", encoding="utf-8")
    candidates = json.loads((src / DL19["candidates"]).read_text(encoding="utf-8"))
    kept = []
    for entry in candidates:
        hits = [h for h in entry["hits"] if keep(str(h["qid"]), str(h["docid"]))]
        if hits:
            kept.append({**entry, "hits": hits})
    (dst / DL19["candidates"]).write_text(json.dumps(kept), encoding="utf-8")


# --- the arms --------------------------------------------------------------------------------------------

def evaluate(study: Study, name: str, model: Path, test_dir: Path, max_queries: int = 0) -> dict[str, Any]:
    out = study.out / "eval" / name
    limit = ["--max-queries", str(max_queries)] if max_queries else []
    rankrl(study, f"eval-{name}", [
        "eval", *limit, "--model", str(model), "--paradigm", "pointwise", "--template", "pointwise-binary",
        "--benchmark", "trec-dl-2019", "--data-dir", str(test_dir), "--top-k", str(study.top_k),
        "--backend", "hf", "--device", "cpu", "--dtype", "float32", "--batch-size", str(study.eval_batch_size),
        "--max-new-tokens", str(study.eval_max_new_tokens), "--max-passage-tokens", str(study.max_passage_tokens),
        "--out", str(out), "--no-progress",
    ])
    return read_arm(out)


def read_arm(eval_dir: Path) -> dict[str, Any]:
    """An evaluation's ``metrics.json`` plus how often each answer was given (from ``traces.jsonl``): a model that
    answers ``true`` to every passage ranks by p(true) alone, which the table should show."""
    arm = json.loads((eval_dir / "metrics.json").read_text(encoding="utf-8"))
    answers: dict[str, int] = {}
    traces = eval_dir / "traces.jsonl"
    if traces.is_file():
        for line in traces.read_text(encoding="utf-8").splitlines():
            trace = json.loads(line)
            if trace.get("ok"):
                answers[str(trace.get("answer"))] = answers.get(str(trace.get("answer")), 0) + 1
    arm["answers"] = answers
    return arm


def sft_traces(study: Study, train_dir: Path, path: Path) -> int:
    """Format-only warm-up traces: the training queries' judged passages with coin-flip true/false answers."""
    from rankrl import prompts

    paradigm = prompts.get_paradigm("pointwise", template="pointwise-binary")
    rng = random.Random(study.split_seed + 1)
    candidates = json.loads((train_dir / DL19["candidates"]).read_text(encoding="utf-8"))
    pairs = [(entry["query"], hit["content"]) for entry in candidates for hit in entry["hits"]]
    rng.shuffle(pairs)
    n = study.sft_steps * study.sft_batch
    with open(path, "w", encoding="utf-8") as handle:
        for query, passage in pairs[:n]:
            completion = paradigm.render_answer(float(rng.random() < 0.5))
            handle.write(json.dumps({"query": query, "passages": [passage], "completion": completion}) + "\n")
    return min(n, len(pairs))


def warm_up(study: Study, base: Path, train_dir: Path) -> Path:
    traces = study.out / "sft_traces.jsonl"
    sft_traces(study, train_dir, traces)
    out = study.out / "format-sft"
    rankrl(study, "sft", [
        "sft", "--config", str(ROOT / "rl" / "recipes" / "sft-tiny.yaml"), "--model_name_or_path", str(base),
        "--traces", str(traces), "--paradigm", "pointwise", "--template", "pointwise-binary",
        "--max_passage_tokens", str(study.max_passage_tokens), "--max_prompt_tokens", "512",
        "--max_length", "640", "--output_dir", str(out), "--learning_rate", str(study.sft_lr),
        "--per_device_train_batch_size", str(study.sft_batch), "--max_steps", str(study.sft_steps),
        "--save_steps", str(study.sft_steps), "--resume_policy", "fresh",
    ])
    return out


def grpo(study: Study, start: Path, train_dir: Path) -> Path:
    out = study.out / "grpo"
    rankrl(study, "grpo", [
        "train", "--config", str(RECIPE), "--model_name_or_path", str(start), "--benchmark_dir", str(train_dir),
        "--output_dir", str(out), "--max_steps", str(study.grpo_steps), "--save_steps", str(study.grpo_steps),
        "--learning_rate", str(study.grpo_lr), "--max_passage_tokens", str(study.max_passage_tokens),
        "--num_generations", str(study.grpo_generations),
        "--per_device_train_batch_size", str(study.grpo_prompts * study.grpo_generations),
        "--max_completion_length", str(study.grpo_completion_tokens), "--resume_policy", "fresh",
        *([] if study.grpo_lora else ["--use_peft", "false"]),
    ])
    return out


def reuse_warm_up(previous: Path, study: Study, arms: dict[str, dict[str, Any]], warm_up_name: str,
                  train_q: list[str], test_q: list[str]) -> Path:
    """Fill ``arms`` with ``previous``'s base and warm-up evaluations; the warm-up checkpoint GRPO starts from."""
    split = json.loads((previous / "split.json").read_text(encoding="utf-8"))
    if split != {"train": train_q, "heldout": test_q}:
        raise SystemExit(f"--reuse {previous}: its split differs from this one (--split-seed, --train-queries)")
    checkpoint = previous / "format-sft"
    for needed in (previous / "eval" / "base" / "metrics.json", previous / "eval" / "format" / "metrics.json",
                   checkpoint / "model.safetensors"):
        if not needed.is_file():
            raise SystemExit(f"--reuse {previous}: {needed} is missing (run the whole study there first)")
    arms["base"] = read_arm(previous / "eval" / "base")
    arms[warm_up_name] = read_arm(previous / "eval" / "format")
    study.commands["reuse"] = f"(base evaluation and format warm-up reused from {previous})"
    return checkpoint


# --- the report ------------------------------------------------------------------------------------------

def paired(baseline: dict[str, float], other: dict[str, float]) -> tuple[float, float]:
    """Mean and standard error of the per-query difference ``other - baseline`` (hand-written: five lines)."""
    diffs = [other[q] - baseline[q] for q in baseline if q in other]
    if len(diffs) < 2:
        return math.nan, math.nan
    mean = sum(diffs) / len(diffs)
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return mean, math.sqrt(var / len(diffs))


def std_error(values: list[float]) -> float:
    if len(values) < 2:
        return math.nan
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))


def log_history(run_dir: Path) -> list[dict[str, Any]]:
    states = sorted(run_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    if not states:
        return []
    return [h for h in json.loads(states[-1].read_text(encoding="utf-8"))["log_history"] if "reward" in h]


def plot(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps = [h["step"] for h in history]
    for key, label in (("reward", "total reward"), ("rewards/pointwise_accuracy/mean", "accuracy"),
                       ("rewards/format/mean", "format"), ("frac_reward_zero_std", "zero-std groups")):
        if history and key in history[0]:
            ax.plot(steps, [h[key] for h in history], marker="o", ms=3, label=label)
    ax.set_xlabel("GRPO step")
    ax.set_title("SmolLM2-135M, pointwise-binary, DL19 (30 training queries)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(study: Study, arms: dict[str, dict[str, Any]], history: list[dict[str, Any]], n_test: int) -> str:
    metric = "nDCG@10" if "nDCG@10" in next(iter(arms.values()))["metrics"] else "ndcg_cut_10"
    lines = [
        ("| system | queries | parse-ok | answers true/false | nDCG@10 ± SE | Δ vs BM25 ± paired SE "
         "| Δ vs previous row ± paired SE |"),
        "|---|---|---|---|---|---|---|",
    ]
    previous: dict[str, float] | None = None
    for name, m in arms.items():
        per_query = {q: v[metric] for q, v in m["per_query"].items()}
        cost = m["cost"]
        d_bm25 = (m.get("vs_first_stage") or {}).get(metric) or {}
        d_text = f"{d_bm25['diff']:+.4f} ± {d_bm25['stderr']:.4f}" if d_bm25.get("stderr") is not None else "n/a"
        prev_text = "—"
        if previous is not None:
            mean, se = paired(previous, per_query)
            common = len(set(previous) & set(per_query))
            prev_text = f"{mean:+.4f} ± {se:.4f} (n={common})"
        ok = cost["prompts"] - cost["parse_failures"]
        answers = m.get("answers") or {}
        lines.append(f"| {name} | {len(per_query)} | {ok / max(cost['prompts'], 1):.1%} ({ok}/{cost['prompts']}) | "
                     f"{answers.get('true', 0)}/{answers.get('false', 0)} | "
                     f"{m['metrics'][metric]:.4f} ± {std_error(list(per_query.values())):.4f} | {d_text} | {prev_text} |")
        previous = per_query
    last = list(arms.values())[-1]
    lines.append(f"| BM25 (first stage) | {len(last['per_query'])} | — | — | {last['first_stage'][metric]:.4f} | — | — |")
    text = [(f"Held-out: {n_test} DL19 queries × BM25 top-{study.top_k}; passages truncated to "
            f"{study.max_passage_tokens} tokens; greedy, {study.eval_max_new_tokens} new tokens at most."), ""]
    text += lines + [""]
    if history:
        first_h, last_h = history[0], history[-1]
        text.append(f"GRPO: {len(history)} logged steps; reward {first_h['reward']:.3f} → {last_h['reward']:.3f}; "
                    f"zero-std fraction {first_h.get('frac_reward_zero_std', float('nan')):.2f} → "
                    f"{last_h.get('frac_reward_zero_std', float('nan')):.2f}.")
    phases = {k: v for k, v in study.timings.items() if k != "total"}
    total = study.timings.get("total", sum(phases.values()))
    text += ["", "Wall time per phase (s): " + ", ".join(f"{k} {v:.0f}" for k, v in phases.items())
             + f"; total {total:.0f}.", "", "Commands:", ""]
    text += [f"    {c}" for c in study.commands.values()]
    return "\n".join(text) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--out", type=Path, default=ROOT / "outputs" / "learnability")
    defaults = Study(out=Path("."))
    for name in ("data_dir", "model"):
        p.add_argument("--" + name.replace("_", "-"), type=Path, default=getattr(defaults, name))
    for name in ("split_seed", "train_queries", "top_k", "max_passage_tokens", "eval_max_new_tokens",
                 "eval_batch_size", "sft_steps", "sft_batch", "grpo_steps", "grpo_prompts", "grpo_generations",
                 "grpo_completion_tokens", "base_queries", "threads"):
        p.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name))
    for name in ("sft_lr", "grpo_lr"):
        p.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name))
    p.add_argument("--skip-base-eval", action="store_true", help="reuse <out>/eval/base if it exists")
    p.add_argument("--grpo-full-finetune", action="store_true", help="GRPO on every weight instead of LoRA")
    p.add_argument("--reuse", type=Path, default=None, metavar="STUDY_OUT",
                   help="a finished study's --out: reuse its base evaluation and format warm-up (checkpoint and "
                        "evaluation; same split required) and run only GRPO and its evaluation, to compare GRPO "
                        "settings from one warm-up")
    p.add_argument("--report-only", type=Path, default=None, metavar="LOG",
                   help="run nothing: rebuild the report from the outputs in --out (same flags as the run) and the "
                        "phase times in LOG (the run's printed output)")
    a = p.parse_args(argv)
    study = Study(**{k: v for k, v in vars(a).items()
                     if k not in ("skip_base_eval", "report_only", "grpo_full_finetune", "reuse")},
                  grpo_lora=not a.grpo_full_finetune, dry=a.report_only is not None)
    study.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    model = study.model or study.out / "smollm2-135m"
    rankrl(study, "model-get", ["model", "get", "smollm2-135m", str(model)])
    train_q, test_q = split_qids(study.data_dir / DL19["qrels"], study.split_seed, study.train_queries)
    train_dir, test_dir = study.out / "data" / "train", study.out / "data" / "heldout"
    write_split(study.data_dir, train_dir, set(train_q), judged_only=True, binary_qrels=True)
    write_split(study.data_dir, test_dir, set(test_q), judged_only=False, binary_qrels=False)
    (study.out / "split.json").write_text(json.dumps({"train": train_q, "heldout": test_q}, indent=1) + "\n")

    arms: dict[str, dict[str, Any]] = {}
    warm_up_name = f"format warm-up ({study.sft_steps} SFT steps, random labels)"
    start_model = model
    if a.reuse is not None:
        start_model = reuse_warm_up(a.reuse, study, arms, warm_up_name, train_q, test_q)
    else:
        base_metrics = study.out / "eval" / "base" / "metrics.json"
        if a.skip_base_eval and base_metrics.is_file():
            arms["base"] = read_arm(base_metrics.parent)
        else:
            arms["base"] = evaluate(study, "base", model, test_dir, study.base_queries)
        if study.sft_steps > 0:
            start_model = warm_up(study, model, train_dir)
            arms[warm_up_name] = evaluate(study, "format", start_model, test_dir)
    grpo_dir = grpo(study, start_model, train_dir)
    grpo_name = (f"GRPO ({study.grpo_steps} steps, {'LoRA' if study.grpo_lora else 'full fine-tuning'}, "
                 f"lr {study.grpo_lr:g})")
    arms[grpo_name] = evaluate(study, "grpo", grpo_dir, test_dir)
    history = log_history(grpo_dir)
    plot(history, study.out / "reward_curve.png")
    if study.dry:
        for line in a.report_only.read_text(encoding="utf-8").splitlines():
            found = re.match(r"\[[\d:]+\] (\S+): (\d+) s", line)
            if found:
                study.timings[found.group(1)] = float(found.group(2))
        study.timings["total"] = sum(study.timings.values())
    else:
        study.timings["total"] = round(time.perf_counter() - start, 1)
    text = report(study, arms, history, len(test_q))
    (study.out / "learnability.md").write_text(text, encoding="utf-8")
    (study.out / "results.json").write_text(json.dumps({
        "study": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(study).items()},
        "split": {"train": train_q, "heldout": test_q}, "grpo_log": history,
        "arms": {k: {kk: v.get(kk) for kk in ("metrics", "first_stage", "vs_first_stage", "per_query", "cost")}
                 for k, v in arms.items()},
    }, indent=1, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
