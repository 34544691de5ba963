"""benchmarks/learnability.py: the fixed DL19 split, the split folders it trains and evaluates on, and the report's
arithmetic (paired standard errors, the table). The study itself takes about an hour and is not run here."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "learnability.py"


@pytest.fixture(scope="module")
def study_module():
    spec = importlib.util.spec_from_file_location("learnability_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture
def dl19(shared_data: Path) -> Path:
    return shared_data / "trec-dl"


def test_split_is_fixed_disjoint_and_covers_the_43_judged_queries(study_module, dl19):
    qrels = dl19 / study_module.DL19["qrels"]
    train, heldout = study_module.split_qids(qrels, seed=0, n_train=30)
    assert (len(train), len(heldout)) == (30, 13)
    assert not set(train) & set(heldout)
    judged = {line.split()[0] for line in qrels.read_text().splitlines() if line.strip()}
    assert set(train) | set(heldout) == judged
    assert study_module.split_qids(qrels, seed=0, n_train=30) == (train, heldout)  # same seed, same split
    assert study_module.split_qids(qrels, seed=1, n_train=30) != (train, heldout)
    # the held-out queries docs/real-model.md reports
    assert heldout == ["1063750", "1114646", "1114819", "1121709", "1133167", "146187", "168216", "183378", "19335",
                       "207786", "443396", "451602", "47923"]


def test_training_split_has_binary_qrels_and_only_judged_candidates(study_module, dl19, tmp_path):
    train, _ = study_module.split_qids(dl19 / study_module.DL19["qrels"], seed=0, n_train=30)
    out = tmp_path / "train"
    study_module.write_split(dl19, out, set(train), judged_only=True, binary_qrels=True)
    qrels = [line.split() for line in (out / study_module.DL19["qrels"]).read_text().splitlines()]
    assert {q for q, *_ in qrels} == set(train)
    assert {g for *_, g in qrels} == {"0", "1"}
    source = {(q, d): int(g) for q, _, d, g in
              (line.split() for line in (dl19 / study_module.DL19["qrels"]).read_text().splitlines() if line.strip())}
    assert all(int(g) == int(source[(q, d)] >= 2) for q, _, d, g in qrels)  # grade >= 2 -> 1
    judged = {(q, d) for q, _, d, _ in qrels}
    run = [line.split() for line in (out / study_module.DL19["run"]).read_text().splitlines()]
    assert run and all((r[0], r[2]) in judged for r in run)
    candidates = json.loads((out / study_module.DL19["candidates"]).read_text())
    assert {str(e["hits"][0]["qid"]) for e in candidates} <= set(train)
    assert all((str(h["qid"]), str(h["docid"])) in judged for e in candidates for h in e["hits"])


def test_heldout_split_keeps_graded_qrels_and_every_bm25_candidate(study_module, dl19, tmp_path):
    _, heldout = study_module.split_qids(dl19 / study_module.DL19["qrels"], seed=0, n_train=30)
    out = tmp_path / "heldout"
    study_module.write_split(dl19, out, set(heldout), judged_only=False, binary_qrels=False)
    grades = {line.split()[3] for line in (out / study_module.DL19["qrels"]).read_text().splitlines()}
    assert grades == {"0", "1", "2", "3"}
    source_run = [line for line in (dl19 / study_module.DL19["run"]).read_text().splitlines()
                  if line.split() and line.split()[0] in set(heldout)]
    assert (out / study_module.DL19["run"]).read_text().splitlines() == source_run
    topics = (out / study_module.DL19["topics"]).read_text().splitlines()
    assert sorted(t.split("\t")[0] for t in topics) == heldout


def test_paired_difference_and_standard_errors(study_module):
    mean, se = study_module.paired({"a": 0.5, "b": 0.2, "c": 0.9}, {"a": 0.7, "b": 0.2, "c": 0.6, "z": 1.0})
    assert mean == pytest.approx((0.2 + 0.0 - 0.3) / 3)
    diffs = [0.2, 0.0, -0.3]
    var = sum((d - mean) ** 2 for d in diffs) / 2
    assert se == pytest.approx(math.sqrt(var / 3))
    assert all(math.isnan(x) for x in study_module.paired({"a": 1.0}, {"a": 0.0}))
    assert study_module.std_error([1.0, 3.0]) == pytest.approx(1.0)
    assert math.isnan(study_module.std_error([2.0]))


def test_report_table_has_parse_rates_deltas_and_bm25(study_module, tmp_path):
    def arm(values: dict[str, float], failures: int) -> dict:
        return {"metrics": {"nDCG@10": sum(values.values()) / len(values)},
                "per_query": {q: {"nDCG@10": v} for q, v in values.items()},
                "cost": {"prompts": 40, "parse_failures": failures},
                "vs_first_stage": {"nDCG@10": {"diff": 0.01, "stderr": 0.02}},
                "first_stage": {"nDCG@10": 0.4}}

    study = study_module.Study(out=tmp_path, top_k=20)
    study.timings = {"eval-base": 10.0, "grpo": 20.0}
    study.commands = {"grpo": "rankrl train --config x"}
    arms = {"base": arm({"q1": 0.4, "q2": 0.5}, 40), "GRPO": arm({"q1": 0.6, "q2": 0.5}, 10)}
    history = [{"step": 1, "reward": 0.5, "frac_reward_zero_std": 0.5},
               {"step": 2, "reward": 0.75, "frac_reward_zero_std": 0.25}]
    text = study_module.report(study, arms, history, 2)
    arms["GRPO"]["answers"] = {"true": 25, "false": 5}
    text = study_module.report(study, arms, history, 2)
    assert "| base | 2 | 0.0% (0/40) | 0/0 | 0.4500 ± 0.0500 | +0.0100 ± 0.0200 | — |" in text
    assert ("| GRPO | 2 | 75.0% (30/40) | 25/5 | 0.5500 ± 0.0500 | +0.0100 ± 0.0200 | +0.1000 ± 0.1000 (n=2) |"
            in text)
    assert "| BM25 (first stage) | 2 | — | — | 0.4000 | — | — |" in text
    assert "reward 0.500 → 0.750; zero-std fraction 0.50 → 0.25" in text
    assert "eval-base 10, grpo 20; total 30." in text
    study.timings["total"] = 31.5  # the run's own clock (includes the split and the report), not summed again
    assert "eval-base 10, grpo 20; total 32." in study_module.report(study, arms, history, 2)
    assert "    rankrl train --config x" in text
    study_module.plot(history, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reuse_needs_the_same_split_and_a_finished_warm_up(study_module, tmp_path):
    previous = tmp_path / "previous"
    (previous / "eval" / "base").mkdir(parents=True)
    (previous / "split.json").write_text(json.dumps({"train": ["1", "2"], "heldout": ["3"]}))
    study = study_module.Study(out=tmp_path / "new")
    with pytest.raises(SystemExit, match="its split differs"):
        study_module.reuse_warm_up(previous, study, {}, "warm", ["1"], ["2", "3"])
    with pytest.raises(SystemExit, match=r"eval/base/metrics.json is missing"):
        study_module.reuse_warm_up(previous, study, {}, "warm", ["1", "2"], ["3"])
    for name in ("base", "format"):
        (previous / "eval" / name).mkdir(parents=True, exist_ok=True)
        (previous / "eval" / name / "metrics.json").write_text(json.dumps({"arm": name}))
    (previous / "eval" / "format" / "traces.jsonl").write_text(
        "".join(json.dumps(t) + "\n" for t in ({"ok": True, "answer": "true"}, {"ok": True, "answer": "true"},
                                               {"ok": False, "answer": None}, {"ok": True, "answer": "false"})))
    (previous / "format-sft").mkdir()
    (previous / "format-sft" / "model.safetensors").write_bytes(b"x")
    arms: dict = {}
    assert study_module.reuse_warm_up(previous, study, arms, "warm", ["1", "2"], ["3"]) == previous / "format-sft"
    assert arms == {"base": {"arm": "base", "answers": {}},
                    "warm": {"arm": "format", "answers": {"true": 2, "false": 1}}}
