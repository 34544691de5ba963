"""``rankrl demo``: answer targets, statistics, recipe/flag validation, report pieces, and (slow) the evidence
that GRPO lifts the held-out score above the format warm-up on the quickstart task."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest

from rankrl.core.errors import ConfigError
from rankrl.rl import demo

REPO_ROOT = Path(__file__).resolve().parents[2]


def _paradigm(name: str, template: str | None = None):
    from rankrl import prompts
    return prompts.get_paradigm(name, template=template)


# ----------------------------------------------------------------------------------------------- targets


def test_gold_values_follow_the_grades():
    """The demo's ceiling targets are the paradigm's gold answers (one rule for rankrl: BaseParadigm.gold_value)."""
    assert _paradigm("pointwise", "pointwise-binary").gold_value([1], grade_max=1) == 1.0
    assert _paradigm("pointwise", "pointwise-binary").gold_value([0], grade_max=1) == 0.0
    assert _paradigm("pointwise").gold_value([1], grade_max=1) == 10.0
    assert _paradigm("pointwise").gold_value([2], grade_max=3) == 7.0 and _paradigm("pointwise").gold_value([2]) == 2.0
    assert _paradigm("setwise").gold_value([0, 0, 2, 1]) == 2
    assert _paradigm("listwise").gold_value([0, 2, 1]) == [1, 2, 0]
    assert _paradigm("groupwise").gold_value([0, 3, 1], grade_max=3) == [0.0, 10.0, 3.0]


@pytest.mark.parametrize(
    ("name", "template", "expected"),
    [("pointwise", "pointwise-binary", {0.0, 1.0}), ("pointwise", None, {float(v) for v in range(11)}),
     ("setwise", None, {0, 1, 2, 3})],
)
def test_random_values_are_well_formed_and_cover_every_answer(name, template, expected):
    paradigm = _paradigm(name, template)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(400):
        value = paradigm.random_value(4, rng)
        seen.add(value)
        completion = paradigm.render_answer(value)
        parsed = paradigm.parse(completion, 1 if paradigm.one_passage_per_prompt else 4)
        assert parsed.ok and parsed.format_ok and parsed.value == value
    assert seen == expected


def test_random_listwise_values_are_permutations():
    paradigm = _paradigm("listwise")
    rng = np.random.default_rng(1)
    perms = {tuple(paradigm.random_value(3, rng)) for _ in range(200)}
    assert all(sorted(p) == [0, 1, 2] for p in perms) and len(perms) == 6


# ----------------------------------------------------------------------------------------------- statistics


def test_mean_se_matches_statistics_module():
    values = [0.2, 0.9, 0.4, 1.0, 0.0, 0.63]
    mean, se = demo.mean_se(values)
    assert mean == pytest.approx(statistics.fmean(values), abs=1e-12)
    assert se == pytest.approx(statistics.stdev(values) / math.sqrt(len(values)), abs=1e-12)
    assert demo.mean_se([0.5]) == (0.5, 0.0)
    assert all(math.isnan(x) for x in demo.mean_se([]))


def _scores(per_query: dict[str, float]) -> dict:
    s = {"per_query": {q: {"ndcg": v, "top1": float(v == 1.0)} for q, v in per_query.items()}}
    s["ndcg"], s["ndcg_se"] = demo.mean_se(list(per_query.values()))
    return s


def test_paired_difference_uses_the_same_queries():
    warm = _scores({"a": 0.5, "b": 0.4, "c": 0.6})
    grpo = _scores({"a": 1.0, "b": 0.4, "c": 1.0, "extra": 0.0})  # a query only one stage has is ignored
    diff, se = demo.paired(warm, grpo)
    assert diff == pytest.approx((0.5 + 0.0 + 0.4) / 3)
    assert se == pytest.approx(statistics.stdev([0.5, 0.0, 0.4]) / math.sqrt(3))


def test_summary_reports_the_rise_and_the_share_of_the_ceiling():
    scores = {
        "warmup": _scores({"a": 0.5, "b": 0.5, "c": 0.5, "d": 0.5}),
        "grpo": _scores({"a": 1.0, "b": 0.5, "c": 1.0, "d": 0.75}),
        "gold-sft": _scores({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}),
    }
    summary = demo.summarize(scores)
    assert summary["grpo_minus_warmup_ndcg"] == pytest.approx(0.3125)
    assert summary["rise_exceeds_se"] is True
    assert summary["share_of_ceiling"] == pytest.approx(0.3125 / 0.5)
    flat = demo.summarize({"warmup": scores["warmup"], "grpo": scores["warmup"]})
    assert flat["grpo_minus_warmup_ndcg"] == 0.0 and flat["rise_exceeds_se"] is False
    assert "share_of_ceiling" not in flat
    lines = demo.evidence_lines(summary)
    assert "larger than its standard error" in lines[0] and "62%" in lines[2]  # 0.625, formatted by Python's round-half-even


def test_table_has_one_row_per_stage_present():
    s = _scores({"a": 0.5, "b": 1.0})
    s.update({"top1": 0.5, "top1_se": 0.5, "format_ok": 0.98, "reward": 0.7})
    first = {k: v for k, v in s.items() if k not in ("format_ok", "reward")}
    text = demo.table({"first-stage": first, "warmup": s})
    rows = text.splitlines()
    assert len(rows) == 4
    assert "| first stage (random order) | – | – | 0.750 ± 0.250 |" in rows[2]
    assert "98.0%" in rows[3] and "0.700" in rows[3]


# ----------------------------------------------------------------------------------------------- held-out rewards


def test_trace_scores_apply_the_recipe_rewards_to_held_out_completions(tmp_path):
    traces = [
        {"qid": "q1", "docids": ["d1"], "completion": "<think>\n\n</think>\n<answer>true</answer>", "format_ok": True},
        {"qid": "q1", "docids": ["d2"], "completion": "<think>\n\n</think>\n<answer>true</answer>", "format_ok": True},
        {"qid": "q1", "docids": ["d3"], "completion": "no tags at all", "format_ok": False},
    ]
    task = demo.RecipeTask(
        paradigm="pointwise", template="pointwise-binary", task="marker", queries=1, group_size=3, passage_words=4,
        max_prompt_tokens=None, max_completion_length=16, max_steps=1,
        rewards=[{"name": "pointwise_accuracy", "weight": 1.0}, {"name": "format", "weight": 0.2}],
        format_gate="zero",
    )
    out = demo.trace_scores(traces, {"q1": {"d1": 1, "d2": 0, "d3": 0}}, task,
                            _paradigm("pointwise", "pointwise-binary"))
    assert out["format_ok"] == pytest.approx(2 / 3)
    # d1: accuracy 1 + 0.2 format; d2: 0 + 0.2; d3: unparsable -> 0 + 0 (strict format reward)
    assert out["reward"] == pytest.approx((1.2 + 0.2 + 0.0) / 3)


# ----------------------------------------------------------------------------------------------- validation


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_recipe_must_use_the_synthetic_source(tmp_path):
    recipe = _write(tmp_path / "r.yaml", "data_source: benchmark:trec-dl-2019\nmax_steps: 5\n"
                                         "max_completion_length: 16\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:1: the demo needs data_source: synthetic"):
        demo.read_recipe_task(recipe)


def test_recipe_needs_steps_and_completion_length(tmp_path):
    recipe = _write(tmp_path / "r.yaml", "data_source: synthetic\nmax_completion_length: 16\n")
    with pytest.raises(ConfigError, match="positive integer max_steps"):
        demo.read_recipe_task(recipe)


def test_shipped_recipe_drives_the_demo():
    task = demo.read_recipe_task(demo.DEFAULT_RECIPE)
    assert task.queries >= 1 and task.max_steps >= 1 and task.rewards


def test_bad_flags_fail_before_anything_is_written(tmp_path):
    out = tmp_path / "demo"
    with pytest.raises(ConfigError, match="--warmup-steps must be >= 1"):
        demo.validate(demo.DemoConfig(out=out, warmup_steps=0))
    with pytest.raises(TypeError):  # the dead option is gone (it could never work)
        demo.DemoConfig(out=out, budget_seconds=-1)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="group_size"):
        demo.validate(demo.DemoConfig(out=out, test_group_size=1))
    assert not out.exists()


def test_refuses_a_folder_it_did_not_write(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a demo output folder"):
        demo.validate(demo.DemoConfig(out=out))
    (out / demo.MARKER_FILE).write_text("")
    demo.validate(demo.DemoConfig(out=out))  # a previous demo's folder may be replaced


def test_cli_reports_user_errors_with_exit_code_2(tmp_path, capsys):
    from rankrl.core.cli import main

    assert main(["demo", "--out", str(tmp_path / "x"), "--test-queries", "0"]) == 2
    assert "--test-queries must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_prepare_output_replaces_only_demo_files(tmp_path):
    out = tmp_path / "demo"
    (out / "models" / "grpo").mkdir(parents=True)
    (out / "models" / "grpo" / "checkpoint-5").mkdir()  # would make `rankrl train` resume: must go
    (out / "report.md").write_text("old")
    demo.prepare_output(out)
    assert not (out / "models").exists() and not (out / "report.md").exists()
    assert (out / demo.MARKER_FILE).is_file()


# ----------------------------------------------------------------------------------------------- report pieces


def test_plots_from_log_history(tmp_path):
    history = [{"step": s, "reward": 0.1 * s, "rewards/pointwise_accuracy/mean": 0.08 * s,
                "rewards/format/mean": 1.0, "rankrl/zero_variance_fraction": 0.5 / s} for s in range(1, 6)]
    history.append({"train_runtime": 3.0, "step": 5})  # the summary record has no reward: skipped
    written = demo.plot_history(history, tmp_path)
    assert written == ["reward_curves.png", "zero_variance.png"]
    for name in written:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert demo.plot_history([], tmp_path / "none") == []


def test_log_history_comes_from_the_newest_checkpoint(tmp_path):
    for step in (4, 12, 8):
        (tmp_path / f"checkpoint-{step}").mkdir()
        state = {"log_history": [{"step": step, "reward": float(step)}]}
        (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps(state))
    assert demo.read_log_history(tmp_path) == [{"step": 12, "reward": 12.0}]
    assert demo.read_log_history(tmp_path / "missing") == []


def test_marker_is_one_token_for_the_tiny_tokenizer():
    """The quickstart's signal must survive tokenisation: the marker is a single token, as is each keyword."""
    from rankrl.data.synthetic import KEYWORDS, MARKER
    from rankrl.rl.tiny_model import build_tokenizer

    tok = build_tokenizer()
    for word in (MARKER, *KEYWORDS):
        assert len(tok.tokenize(" " + word)) == 1, word


# ----------------------------------------------------------------------------------------------- the evidence


@pytest.mark.slow
def test_grpo_rises_above_the_format_warm_up_on_held_out_queries(tmp_path):
    """A shortened demo with the fixed seed 0 (fewer held-out queries, no ceiling): GRPO's held-out nDCG@10 must
    exceed the warm-up's by more than the paired standard error. Seed and settings are fixed, not tuned to pass;
    the effect across seeds is recorded in docs/findings.md."""
    import torch

    torch.set_num_threads(1)
    config = demo.DemoConfig(out=tmp_path / "demo", seed=0, ceiling=False, test_queries=40, threads=1)
    result = demo.run_demo(config)
    out = config.out
    for name in ("report.md", "demo.json", "reward_curves.png", "zero_variance.png", "ndcg_by_stage.png"):
        assert (out / name).is_file(), name
    summary = result["summary"]
    warm, grpo = result["scores"]["warmup"], result["scores"]["grpo"]
    assert warm["format_ok"] > 0.9 and grpo["format_ok"] > 0.9
    assert summary["grpo_minus_warmup_ndcg"] > summary["grpo_minus_warmup_ndcg_se"] > 0
    assert "larger than its standard error" in (out / "report.md").read_text()
